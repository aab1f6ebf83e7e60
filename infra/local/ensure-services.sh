#!/usr/bin/env bash
# Starts (installing if needed) what the tests talk to or drive: RabbitMQ on 127.0.0.1:5672, Debian's
# Chromium (browser tests), Prometheus' promtool (alert-rule tests) and npm (the page's DSFR). The S3 endpoint is a moto server
# that the tests start themselves.
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

ensure_debian_tools() {
  local missing=()
  command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  command -v promtool >/dev/null 2>&1 || missing+=(prometheus)
  command -v npm >/dev/null 2>&1 || missing+=(npm)  # `make web`: the DSFR for the advisor page
  if [ ${#missing[@]} -eq 0 ]; then return 0; fi
  echo "installing ${missing[*]} (Debian packages)…"
  as_root apt-get update -qq
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

ensure_rabbitmq
ensure_debian_tools
echo "services ready: RabbitMQ 127.0.0.1:5672, chromium, promtool, npm"
