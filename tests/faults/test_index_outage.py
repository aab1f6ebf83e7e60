"""The index goes down while asks continue (issue 14): asks keep being accepted (the functions do not
need the index); their answers wait for it and complete when it comes back, or, past the bound
GUICHET_INDEX_OUTAGE_WAIT, fail with a clear French reason (code index_indisponible), and the asks after
it are answered again. Nothing lost, nothing answered twice.

The outage. No Weaviate server runs here, so the index is the embedded one (SQLite, WAL mode), taken
away from outside the worker: another process holds the WAL index's locks (bytes 120-127 of the -shm
file, SQLite's own protocol), as SQLite itself does while it recovers the WAL of a crashed writer. Every
read of the worker then fails after SQLite's ~10 s of retries ("locking protocol") — what a Weaviate
query does against a server that stopped answering, after its timeout — and works again as soon as the
locks are released. An exclusive lock on the database file itself cannot be taken while the worker has
it open in WAL mode, and making the file unreadable changes nothing for a process that has it open (nor
for root): neither would be an outage the worker sees.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from guichet.ports.indexes.embedded import DB_NAME
from guichet.testing.helpers import wait_for
from tests.deployment import QUESTION
from tests.faults.launched import Launch, Launched
from tests.faults.ledger import record_row

pytestmark = [pytest.mark.faults, pytest.mark.s3]

# Longer than the 3 delivery attempts of these deployments (GUICHET_MAX_DELIVERIES=3) of ~10 s each for
# the ask sent during it (one: the worker's slots share one connection to the embedded index, their reads
# take turns): a worker that spent its attempts on the outage would have failed it (~30 s) before the
# index came back.
SHORT_OUTAGE_S = 45.0
DURING = 1
BOUND_S = 5.0  # the bound of the long outage: the index stays down well past it
HOLD_LOCKS = """
import fcntl, os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.lockf(fd, fcntl.LOCK_EX, 8, 120)  # write, checkpoint, recover and the five read marks
print("held", flush=True)
sys.stdin.readline()  # released when the test closes stdin (or dies): the locks go with the process
"""


@contextmanager
def index_down(index_dir: Path) -> Iterator[None]:
    """The embedded index unavailable to every process that has it open, for the with block."""
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCKS, str(index_dir / f"{DB_NAME}-shm")],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def finals(run: Launched, ids: list[str]) -> list[dict[str, object]]:
    return [versions[-1] for versions in map(run.ledger.final_versions, ids) if versions]


def test_answers_wait_for_an_index_that_comes_back(launch: Launch, faults_index: Path) -> None:
    run = launch(
        "index indisponible puis revenu, demandes en cours", llm_delay=0.03, GUICHET_INDEX_OUTAGE_WAIT="120"
    )
    run.ask_many(2)
    with index_down(faults_index):
        statuses = [run.ledger.submit(f"{QUESTION} (pendant la panne {n})") for n in range(DURING)]
        during = run.ledger.ids[2:]
        time.sleep(SHORT_OUTAGE_S)
        finished_during = finals(run, during)
    back = time.monotonic()
    wait_for(lambda: len(finals(run, during)) == len(during), timeout=60, interval=0.5)
    waited_s = time.monotonic() - back
    run.ask_many(2)
    row = run.ledger.settle()
    assert statuses == [202] * DURING
    assert finished_during == [], f"answers ended while the index was down: {finished_during}"
    assert (row.accepted, row.answered, row.failed) == (4 + DURING, 4 + DURING, 0), row
    assert row.lost == 0 and row.duplicated == 0, row
    row.note = (
        f"index down {SHORT_OUTAGE_S:.0f} s (bound 120 s): {DURING} ask accepted meanwhile, none ended "
        f"during the outage, all answered {waited_s:.1f} s after it"
    )
    record_row(row)


def test_answers_fail_with_their_reason_past_the_bound(launch: Launch, faults_index: Path) -> None:
    run = launch(
        "index indisponible au-delà de la borne, demandes en cours",
        llm_delay=0.03,
        GUICHET_INDEX_OUTAGE_WAIT=str(BOUND_S),
    )
    with index_down(faults_index):
        down = time.monotonic()
        statuses = [run.ledger.submit(f"{QUESTION} (pendant la panne {n})") for n in range(3)]
        wait_for(lambda: len(finals(run, run.ledger.ids)) == 3, timeout=120, interval=0.5)
        failed_s = time.monotonic() - down
        records = finals(run, run.ledger.ids)
    run.ask_many(2)  # the index is back: answered again
    row = run.ledger.settle()
    assert statuses == [202] * 3
    assert {r["status"] for r in records} == {"failed"}, records
    errors = [r["error"] for r in records]
    assert all(e["code"] == "index_indisponible" for e in errors), errors  # type: ignore[index]
    assert all("index indisponible depuis" in e["message"] for e in errors), errors  # type: ignore[index]
    assert (row.accepted, row.answered, row.failed) == (5, 2, 3), row
    assert row.lost == 0 and row.duplicated == 0, row
    row.note = (
        f"index down past the {BOUND_S:.0f} s bound: 3 asks accepted, all failed `index_indisponible` "
        f"within {failed_s:.0f} s of the outage (SQLite's 10 s per read included); the 2 after it answered"
    )
    record_row(row)
