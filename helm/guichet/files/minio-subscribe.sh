#!/usr/bin/env bash
# Subscribes the documents bucket to the GUICHET AMQP target (see notification.env): the put and delete
# events of every object (s3:ObjectCreated:*, s3:ObjectRemoved:*, DeleteAllVersions included). No suffix
# filter: MinIO's are case-sensitive ("Guide.PDF" would never be announced); the index worker picks the
# formats it reads, whatever their case, and ignores the rest. Idempotent (a Helm hook runs it at every
# upgrade), and it fails unless `mc event ls` shows the subscription at the end.
# Usage: infra/minio/subscribe.sh ALIAS BUCKET   (ALIAS configured with `mc alias set`)
set -euo pipefail
alias_name=${1:?mc alias}
bucket=${2:?bucket}
arn=arn:minio:sqs::GUICHET:amqp
target="$alias_name/$bucket"

subscribed() {
  mc --no-color event ls "$target" "$arn" | grep -F "$arn" | grep -F 's3:ObjectCreated:*' \
    | grep -F 's3:ObjectRemoved:*' | grep -v -e 'suffix=' -e 'prefix=' >/dev/null
}

mc mb --ignore-existing "$target"
if ! subscribed; then
  # The per-suffix rules of earlier versions would overlap the new one; absent ones are no error.
  for suffix in .xml .md .markdown .html .htm .pdf .txt; do
    if mc event rm "$target" "$arn" --event put,delete --suffix "$suffix" >/dev/null 2>&1; then
      echo "removed the earlier rule for $suffix"
    fi
  done
  mc event add "$target" "$arn" --event put,delete
fi
mc --no-color event ls "$target" "$arn"
if ! subscribed; then
  echo "error: $target is not subscribed to $arn (mc event ls above)" >&2
  exit 1
fi
