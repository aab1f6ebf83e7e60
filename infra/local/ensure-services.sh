#!/usr/bin/env bash
# Starts (installing if needed) what the tests talk to or drive: RabbitMQ on 127.0.0.1:5672, PostgreSQL on
# 127.0.0.1:5432 (the analytics store's tests create and drop databases of their own), Debian's
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

# The analytics store (docs/decisions/0024): Debian's PostgreSQL cluster, started when its port is closed.
# The tests connect as the postgres role over TCP (GUICHET_TEST_POSTGRES_URL to point elsewhere).
ensure_postgresql() {
  if port_open 5432; then return 0; fi
  if ! command -v pg_lsclusters >/dev/null 2>&1; then
    echo "installing postgresql (Debian package)…"
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq postgresql >/dev/null
  fi
  local cluster
  cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  if [ -z "$cluster" ]; then
    as_root pg_createcluster "$(ls /usr/lib/postgresql | sort -V | tail -1)" main >/dev/null
    cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
  fi
  echo "starting PostgreSQL ($cluster)…"
  # shellcheck disable=SC2086
  as_root pg_ctlcluster $cluster start || true
  for _ in $(seq 1 30); do
    if port_open 5432; then break; fi
    sleep 1
  done
  port_open 5432 || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; return 1; }
  # Local tests only: the postgres role may connect from 127.0.0.1 without a password.
  local hba
  hba=$(as_root su postgres -c "psql -tAc 'SHOW hba_file'" 2>/dev/null || true)
  if [ -n "$hba" ] && ! as_root grep -qE '^host\s+all\s+postgres\s+127\.0\.0\.1/32\s+trust' "$hba"; then
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust' "$hba"
    as_root su postgres -c "psql -tAc 'SELECT pg_reload_conf()'" >/dev/null
  fi
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
ensure_postgresql
ensure_debian_tools
echo "services ready: RabbitMQ 127.0.0.1:5672, PostgreSQL 127.0.0.1:5432, chromium, promtool, npm"
