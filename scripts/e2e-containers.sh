#!/usr/bin/env bash
# The production shape on one machine (issue 16): build the three images from containers/Containerfile,
# render the Helm chart, run its Deployments, Jobs and CronJobs with `podman kube play`, then ask one
# question end to end through the containers. Exit 0 only when everything held.
#
#   scripts/e2e-containers.sh            # all steps (make e2e-containers)
#   scripts/e2e-containers.sh build      # offline inputs + base image + the three images
#   scripts/e2e-containers.sh run        # the chart's workloads and the checks (images already built)
#
# No container registry is reachable here: the base image is a Debian root filesystem built from Debian's
# packages (debootstrap, minbase, python3 + venv) and `podman import`ed; the wheels and the DSFR tarball
# are made on the host (pip and npm are set up for the registries there, not inside a build container)
# and installed with --no-index. Stand-ins (the run step says it again): RabbitMQ on the host for the
# chart's broker, moto's S3 server for MinIO plus tests/e2e/minio_events.py for MinIO's bucket
# notifications, the engine simulator (python -m guichet.capacity.simulator) in the chart's vLLM pod for
# vLLM, the embedded index on a shared host folder for Weaviate; host networking for Services; KEDA and NetworkPolicies are not run.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export CONTAINERS_CONF="$ROOT/containers/containers.conf"
STEP=${1:-all}
WORK=${GUICHET_E2E_DIR:-$HOME/.cache/guichet/e2e}
BASE_IMAGE=localhost/guichet-base-bookworm:latest
TAG=localhost/guichet/guichet
VENV_PY=${PYTHON:-$ROOT/.venv/bin/python}
mkdir -p "$WORK"

say() { printf '\n== %s\n' "$*"; }
now() { date +%s; }

base_image() {
  if podman image exists "$BASE_IMAGE"; then return; fi
  say "base image: debootstrap minbase bookworm + python3 + venv, podman import"
  local rootfs="$WORK/rootfs" t0
  t0=$(now)
  if [ ! -x "$rootfs/usr/bin/python3" ]; then
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include=python3,python3-venv bookworm "$rootfs" \
      http://deb.debian.org/debian >"$WORK/debootstrap.log"
  fi
  tar -C "$rootfs" -c . | podman import --change 'CMD ["/bin/bash"]' - "$BASE_IMAGE" >/dev/null
  echo "base image in $(($(now) - t0)) s"
}

offline_inputs() {
  say "offline inputs: wheels (pip wheel on the host) and the DSFR tarball (npm pack)"
  local offline="$ROOT/containers/offline"
  # guichet, its dependencies and the build backend, as wheels for this Python (3.11, manylinux).
  "$VENV_PY" -m pip wheel --quiet --wheel-dir "$offline" "$ROOT" hatchling
  local version integrity
  version=$("$VENV_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/@gouvfr/dsfr"]["version"])' web/package-lock.json)
  integrity=$("$VENV_PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["packages"]["node_modules/@gouvfr/dsfr"]["integrity"])' web/package-lock.json)
  if [ ! -f "$offline/dsfr.tgz" ]; then
    (cd "$WORK" && npm pack --silent "@gouvfr/dsfr@$version" >/dev/null && mv "gouvfr-dsfr-$version.tgz" "$offline/dsfr.tgz")
  fi
  local actual
  actual="sha512-$(openssl dgst -sha512 -binary "$offline/dsfr.tgz" | base64 -w0)"
  [ "$actual" = "$integrity" ] || { echo "dsfr.tgz does not match web/package-lock.json's integrity" >&2; exit 1; }
}

build_images() {
  base_image
  offline_inputs
  local target t0 t1
  for target in functions answer-worker index-worker; do
    say "image $target"
    t0=$(now)
    nice -n 19 podman build --quiet --ignorefile containers/Containerfile.dockerignore \
      -f containers/Containerfile --target "$target" \
      --build-arg PYTHON_IMAGE="$BASE_IMAGE" --build-arg NODE_IMAGE="$BASE_IMAGE" --build-arg PIP_OFFLINE=1 \
      -t "$TAG-$target:e2e" . >/dev/null
    t1=$(now)
    echo "$target: built in $((t1 - t0)) s, $(podman image inspect --format '{{.Size}}' "$TAG-$target:e2e" | numfmt --to=iec) " \
      | tee -a "$WORK/images.txt"
  done
  # The definitions Job's curl image (docker.io/curlimages/curl) from Debian's packages, for the same reason.
  podman image exists localhost/guichet-e2e-curl:latest || nice -n 19 podman build --quiet \
    --build-arg BASE="$BASE_IMAGE" -f tests/e2e/curl.Containerfile -t localhost/guichet-e2e-curl:latest tests/e2e >/dev/null
}

case "$STEP" in
  build) build_images ;;
  run) exec "$VENV_PY" -m tests.e2e.containers --tag e2e --repository "$TAG" --work "$WORK" ;;
  all)
    build_images
    exec "$VENV_PY" -m tests.e2e.containers --tag e2e --repository "$TAG" --work "$WORK"
    ;;
  *) echo "usage: $0 [build|run|all]" >&2; exit 2 ;;
esac
