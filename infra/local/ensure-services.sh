#!/usr/bin/env bash
# Starts (installing if needed) the servers the tests talk to: RabbitMQ on 127.0.0.1:5672.
# The S3 endpoint is a moto server that the tests start themselves.
set -euo pipefail

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

ensure_rabbitmq() {
  if port_open 5672; then return 0; fi
  if ! command -v rabbitmq-server >/dev/null 2>&1; then
    echo "installing rabbitmq-server (Debian package)…"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq rabbitmq-server >/dev/null
  fi
  echo "starting RabbitMQ…"
  as_root rabbitmq-server -detached || true
  for _ in $(seq 1 60); do
    if port_open 5672; then
      as_root rabbitmqctl await_startup >/dev/null 2>&1 || true
      return 0
    fi
    sleep 1
  done
  echo "RabbitMQ did not start on 127.0.0.1:5672" >&2
  return 1
}

ensure_rabbitmq
echo "services ready: RabbitMQ 127.0.0.1:5672"
