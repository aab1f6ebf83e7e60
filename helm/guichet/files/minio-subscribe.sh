#!/usr/bin/env bash
# Subscribes the documents bucket to the GUICHET AMQP target (see notification.env).
# Usage: infra/minio/subscribe.sh ALIAS BUCKET   (ALIAS configured with `mc alias set`)
set -euo pipefail
alias_name=${1:?mc alias}
bucket=${2:?bucket}
mc mb --ignore-existing "$alias_name/$bucket"
# put and delete only: tagging/retention events are not needed (the worker would ignore them anyway).
mc event add "$alias_name/$bucket" arn:minio:sqs::GUICHET:amqp --event put,delete --suffix .xml || true
for suffix in .md .markdown .html .htm .pdf .txt; do
  mc event add "$alias_name/$bucket" arn:minio:sqs::GUICHET:amqp --event put,delete --suffix "$suffix" || true
done
mc event ls "$alias_name/$bucket"
