#!/usr/bin/env bash
# Subscribes the documents bucket to the GUICHET AMQP target (see notification.env).
# Usage: infra/minio/subscribe.sh ALIAS BUCKET   (ALIAS configured with `mc alias set`)
set -euo pipefail
alias_name=${1:?mc alias}
bucket=${2:?bucket}
arn=arn:minio:sqs::GUICHET:amqp
mc mb --ignore-existing "$alias_name/$bucket"
# Idempotent without hiding failures: a suffix already subscribed is skipped (MinIO refuses an overlapping
# rule), any other failure of `mc event add` fails the script, hence the Job.
existing=$(mc event ls "$alias_name/$bucket" "$arn")
for suffix in .xml .md .markdown .html .htm .pdf .txt; do
  if grep -qF "suffix=\"$suffix\"" <<<"$existing"; then
    continue
  fi
  # put and delete only: tagging/retention events are not needed (the worker would ignore them anyway).
  mc event add "$alias_name/$bucket" "$arn" --event put,delete --suffix "$suffix"
done
mc event ls "$alias_name/$bucket" "$arn"
