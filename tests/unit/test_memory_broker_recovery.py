"""The embedded broker across processes: holder tokens, recovery of dead holders, sqlite lock contention."""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from guichet.ports.broker import Handler, dead_letter_queue
from guichet.ports.brokers._memory_holders import HOLDERS_DIR
from guichet.ports.brokers.memory import DB_NAME, MemoryBroker
from guichet.ports.records import Envelope
from guichet.testing.helpers import wait_for

QUEUE = "travail"
TIMEOUT = 10.0
DEAD_TOKEN = "h-" + "0" * 32  # a holder that never existed: no lock file


@contextmanager
def consuming(broker: MemoryBroker, handler: Handler) -> Iterator[dict[str, Any]]:
    stop = threading.Event()
    outcome: dict[str, Any] = {"stop": stop}

    def run() -> None:
        try:
            broker.consume(QUEUE, handler, stop=stop)
        except BaseException as exc:
            outcome["raised"] = exc

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    outcome["thread"] = thread
    try:
        yield outcome
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "consume() did not return after stop"


@pytest.fixture
def opened() -> Iterator[list[MemoryBroker]]:
    brokers: list[MemoryBroker] = []
    yield brokers
    for broker in brokers:
        broker.close()


@pytest.fixture
def open_broker(tmp_path: Path, opened: list[MemoryBroker]) -> Callable[..., MemoryBroker]:
    def make(**kwargs: Any) -> MemoryBroker:
        broker = MemoryBroker(tmp_path, retry_backoff=0.01, **kwargs)
        broker.declare(QUEUE)
        opened.append(broker)
        return broker

    return make


def raw(tmp_path: Path) -> sqlite3.Connection:
    """Another connection to the broker's file, as another process would have."""
    return sqlite3.connect(tmp_path / DB_NAME, isolation_level=None, check_same_thread=False)


def insert_taken(tmp_path: Path, body: bytes, taken: object) -> None:
    with raw(tmp_path) as db:
        db.execute(
            "INSERT INTO messages (queue, body, message_id, headers, taken) VALUES (?, ?, ?, '{}', ?)",
            (QUEUE, body, body.decode(), taken),
        )
    db.close()


def taken_values(tmp_path: Path) -> list[object]:
    db = raw(tmp_path)
    values = [t for (t,) in db.execute("SELECT taken FROM messages WHERE taken != 0")]
    db.close()
    return values


# --- (1) dead holders --------------------------------------------------------------------------------------


@pytest.mark.parametrize("lock_file", [False, True], ids=["no-lock-file", "unheld-lock-file"])
def test_message_of_dead_holder_is_recovered_at_open(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker], lock_file: bool
) -> None:
    open_broker().close()  # creates the file and its queues
    insert_taken(tmp_path, b"orphelin", DEAD_TOKEN)
    stale = tmp_path / HOLDERS_DIR / f"{DEAD_TOKEN}.lock"
    if lock_file:
        stale.write_text("12345\n")  # its process died: nobody holds the flock
    broker = open_broker()
    assert not stale.exists()
    envelope = broker.get(QUEUE)
    assert envelope is not None and envelope.body == b"orphelin"
    assert (envelope.redelivered, envelope.delivery_count) == (True, 1)


def test_legacy_pid_is_recovered_at_open(tmp_path: Path, open_broker: Callable[..., MemoryBroker]) -> None:
    open_broker().close()
    insert_taken(tmp_path, b"ancien", os.getpid())  # written by a version that stored pids
    assert [e.body for e in open_broker().messages(QUEUE)] == [b"ancien"]


def test_running_consumer_recovers_dead_holder_periodically(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker]
) -> None:
    broker = open_broker(recovery_interval=0.1)
    seen: list[Envelope] = []
    with consuming(broker, seen.append) as outcome:
        time.sleep(0.2)  # idle, past its first sweep
        insert_taken(tmp_path, b"orphelin", DEAD_TOKEN)  # a crashed `guichet worker` beside it
        wait_for(lambda: len(seen) == 1)
    assert "raised" not in outcome
    assert (seen[0].body, seen[0].delivery_count) == (b"orphelin", 1)
    assert taken_values(tmp_path) == []


def test_recovery_exhausting_deliveries_dead_letters(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker]
) -> None:
    open_broker().close()
    insert_taken(tmp_path, b"use", DEAD_TOKEN)
    broker = open_broker(max_deliveries=1)
    assert broker.depth(QUEUE) == 0
    assert [e.body for e in broker.messages(dead_letter_queue(QUEUE))] == [b"use"]


def test_own_and_live_holders_are_left_alone(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker]
) -> None:
    first = open_broker()
    first.publish(QUEUE, b"en cours")
    started, release = threading.Event(), threading.Event()

    def slow(envelope: Envelope) -> None:
        started.set()
        release.wait(TIMEOUT)

    with consuming(first, slow):
        assert started.wait(TIMEOUT)
        second = open_broker(recovery_interval=0.05)  # same process, another holder: alive, flock says so
        with consuming(second, lambda e: pytest.fail("a live holder's message was taken")):
            time.sleep(0.3)
        assert second.depth(QUEUE) == 0 and len(taken_values(tmp_path)) == 1
        release.set()
        first.join(QUEUE)
    assert first.messages(QUEUE) == []


def test_close_removes_the_lock_file(tmp_path: Path) -> None:
    broker = MemoryBroker(tmp_path)
    assert len(list((tmp_path / HOLDERS_DIR).glob("*.lock"))) == 1
    broker.close()
    assert list((tmp_path / HOLDERS_DIR).iterdir()) == []


# --- (2) a live holder in another process ---------------------------------------------------------------

_CHILD = textwrap.dedent(
    """
    import sys, threading, time
    from pathlib import Path
    from guichet.ports.brokers.memory import MemoryBroker

    broker = MemoryBroker(Path(sys.argv[1]))

    def handler(envelope):
        print("pris", envelope.body.decode(), flush=True)
        time.sleep(60)

    broker.consume(sys.argv[2], handler, stop=threading.Event())
    """
)


def test_live_holder_in_another_process_is_recovered_only_once_killed(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker]
) -> None:
    publisher = open_broker()
    publisher.publish(QUEUE, b"long")
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(tmp_path), QUEUE], stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "pris long"  # the child is inside its handler
        second = open_broker(recovery_interval=0.05)  # opened meanwhile: recovery at open
        seen: list[Envelope] = []
        with consuming(second, seen.append) as outcome:
            time.sleep(0.3)  # several periodic sweeps
            assert seen == [] and second.depth(QUEUE) == 0
            child.send_signal(signal.SIGKILL)
            child.wait(TIMEOUT)
            wait_for(lambda: len(seen) == 1)
        assert "raised" not in outcome
        assert (seen[0].body, seen[0].redelivered, seen[0].delivery_count) == (b"long", True, 1)
        # Only the two live brokers of this process still have a lock file.
        assert len(list((tmp_path / HOLDERS_DIR).glob("*.lock"))) == 2
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(TIMEOUT)
        if child.stdout is not None:
            child.stdout.close()


# --- (3) sqlite lock contention ------------------------------------------------------------------------


def test_consume_survives_database_locked(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker], caplog: pytest.LogCaptureFixture
) -> None:
    broker = open_broker(busy_timeout=0.2)
    broker.publish(QUEUE, b"patient")
    locker = raw(tmp_path)
    locker.execute("BEGIN IMMEDIATE")  # `guichet ingest` holding a long write transaction
    seen: list[Envelope] = []
    with caplog.at_level(logging.ERROR), consuming(broker, seen.append) as outcome:
        wait_for(lambda: "database is locked" in caplog.text)
        time.sleep(0.3)
        assert seen == []
        locker.rollback()
        wait_for(lambda: len(seen) == 1)
        wait_for(lambda: broker.depth(QUEUE) == 0 and not broker.messages(QUEUE))
        assert "raised" not in outcome and outcome["thread"].is_alive()
    locker.close()
    assert (seen[0].body, seen[0].delivery_count) == (b"patient", 0)
    broker.join(QUEUE, timeout=TIMEOUT)


def test_ack_is_retried_while_database_is_locked(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker], caplog: pytest.LogCaptureFixture
) -> None:
    broker = open_broker(busy_timeout=0.2)
    broker.publish(QUEUE, b"fait")
    locker = raw(tmp_path)
    calls: list[Envelope] = []

    def handler(envelope: Envelope) -> None:
        calls.append(envelope)
        locker.execute("BEGIN IMMEDIATE")  # the ack will find the file locked

    with caplog.at_level(logging.ERROR), consuming(broker, handler):
        wait_for(lambda: "outcome not recorded" in caplog.text)
        locker.rollback()
        broker.join(QUEUE, timeout=TIMEOUT)  # acknowledged once the lock is gone
    locker.close()
    assert len(calls) == 1, "the message was redelivered"


def test_ack_caught_by_stop_is_applied_at_close(
    tmp_path: Path, open_broker: Callable[..., MemoryBroker]
) -> None:
    broker = open_broker(busy_timeout=0.2)
    broker.publish(QUEUE, b"fait")
    locker = raw(tmp_path)
    stop = threading.Event()

    def handler(envelope: Envelope) -> None:
        locker.execute("BEGIN IMMEDIATE")
        stop.set()  # the worker is asked to stop while its ack cannot be written

    thread = threading.Thread(target=broker.consume, args=(QUEUE, handler), kwargs={"stop": stop})
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive()
    assert len(taken_values(tmp_path)) == 1  # not acknowledged yet, not lost either
    locker.rollback()
    locker.close()
    broker.close()
    reopened = open_broker()
    assert reopened.depth(QUEUE) == 0 and reopened.messages(dead_letter_queue(QUEUE)) == []
    assert taken_values(tmp_path) == []


def test_publish_on_a_locked_database_raises_broker_error(tmp_path: Path) -> None:
    import sqlite3

    from guichet.ports.broker import BrokerError

    broker = MemoryBroker(tmp_path, busy_timeout=0.2)
    broker.declare("q")
    blocker = sqlite3.connect(str(tmp_path / "broker.sqlite3"), isolation_level=None)
    blocker.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(BrokerError, match="indisponible"):
            broker.publish("q", b"x")
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
        broker.close()
