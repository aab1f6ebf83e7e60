"""infra/minio/subscribe.sh against a stand-in `mc` (no MinIO here: this certifies the script's logic
against the stand-in, whose `event ls` prints lines the way mc's cmd/event-list.go does): it subscribes
every object without a suffix filter, is idempotent, and fails unless `mc event ls` shows the
subscription (issue 14, defect 8)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "infra" / "minio" / "subscribe.sh"
ARN = "arn:minio:sqs::GUICHET:amqp"

# Rules are kept one per line in $FAKE_MC_STATE as "<arn> <events> <suffix>"; FAKE_MC_ADD_FAILS makes
# `event add` fail, FAKE_MC_ADD_LOST makes it succeed without keeping the rule.
FAKE_MC = r"""#!/usr/bin/env bash
set -eu
[ "${1:-}" = "--no-color" ] && shift
echo "$*" >> "$FAKE_MC_LOG"
case "$1 ${2:-}" in
  "mb --ignore-existing") exit 0 ;;
  "event add")
    [ -n "${FAKE_MC_ADD_FAILS:-}" ] && { echo "mc: <ERROR> Unable to enable notification" >&2; exit 1; }
    [ -n "${FAKE_MC_ADD_LOST:-}" ] && exit 0
    suffix=""; [ "${7:-}" = "--suffix" ] && suffix="$8"
    echo "$4 s3:ObjectCreated:*,s3:ObjectRemoved:* $suffix" >> "$FAKE_MC_STATE"; exit 0 ;;
  "event rm")
    grep -q " $8\$" "$FAKE_MC_STATE" 2>/dev/null || exit 1
    grep -v " $8\$" "$FAKE_MC_STATE" > "$FAKE_MC_STATE.new" || true
    mv "$FAKE_MC_STATE.new" "$FAKE_MC_STATE"; exit 0 ;;
  "event ls")
    [ -f "$FAKE_MC_STATE" ] || exit 0
    while read -r arn events suffix; do
      filter=""; [ -n "$suffix" ] && filter="suffix=\"$suffix\""
      echo "$arn   $events   Filter: $filter"
    done < "$FAKE_MC_STATE"; exit 0 ;;
esac
echo "unexpected: $*" >&2; exit 2
"""


class Mc:
    def __init__(self, root: Path) -> None:
        self.bin = root / "bin"
        self.bin.mkdir()
        (self.bin / "mc").write_text(FAKE_MC)
        (self.bin / "mc").chmod(0o755)
        self.state = root / "rules"
        self.log = root / "calls"

    def run(self, **env: str) -> subprocess.CompletedProcess[str]:
        environment = {
            **os.environ, "PATH": f"{self.bin}:{os.environ['PATH']}",
            "FAKE_MC_STATE": str(self.state), "FAKE_MC_LOG": str(self.log), **env,
        }  # fmt: skip
        return subprocess.run(
            ["bash", str(SCRIPT), "local", "documents"],
            env=environment,
            capture_output=True,
            text=True,
            timeout=30,
        )

    def rules(self) -> list[str]:
        return [line.strip() for line in self.state.read_text().splitlines()] if self.state.exists() else []

    def adds(self) -> int:
        return sum(line.startswith("event add") for line in self.log.read_text().splitlines())


@pytest.fixture
def mc(tmp_path: Path) -> Mc:
    return Mc(tmp_path)


def test_it_subscribes_every_object_without_a_suffix_filter(mc: Mc) -> None:
    result = mc.run()
    assert result.returncode == 0, result.stderr
    assert mc.rules() == [f"{ARN} s3:ObjectCreated:*,s3:ObjectRemoved:*"]  # no case-sensitive suffix


def test_it_is_idempotent(mc: Mc) -> None:
    assert mc.run().returncode == 0
    assert mc.run().returncode == 0
    assert mc.adds() == 1
    assert len(mc.rules()) == 1


def test_the_earlier_suffix_rules_are_replaced(mc: Mc) -> None:
    mc.state.write_text(
        "".join(f"{ARN} s3:ObjectCreated:*,s3:ObjectRemoved:* {s}\n" for s in (".xml", ".pdf"))
    )
    result = mc.run()
    assert result.returncode == 0, result.stderr
    assert mc.rules() == [f"{ARN} s3:ObjectCreated:*,s3:ObjectRemoved:*"]


def test_a_failed_subscription_fails_the_script(mc: Mc) -> None:
    result = mc.run(FAKE_MC_ADD_FAILS="1")
    assert result.returncode != 0
    assert mc.rules() == []


def test_a_subscription_that_mc_event_ls_does_not_show_fails_the_script(mc: Mc) -> None:
    result = mc.run(FAKE_MC_ADD_LOST="1")
    assert result.returncode != 0
    assert "not subscribed" in result.stderr
