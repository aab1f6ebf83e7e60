"""Helpers for tests of code built on guichet (like dramatiq's stub broker helpers)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx

from guichet.ports.answer_stream import AnswerEvent, AnswerStream


def wait_for(condition: Callable[[], bool], timeout: float = 30.0, interval: float = 0.02) -> None:
    """Poll condition until it holds; AssertionError after timeout (generous: it only bounds a failure)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise AssertionError("condition not met in time")
        time.sleep(interval)


class LoggedProcess:
    """A child process (a server a test, benchmark or load test starts), its output in a log file shown
    when it fails to get ready; cpus pins it (benchmarks), None leaves it free."""

    def __init__(
        self, args: Sequence[str], env: dict[str, str], log: Path, cpus: set[int] | None = None
    ) -> None:
        self.log = log
        self._out = log.open("ab")
        self.popen = subprocess.Popen(
            list(args),
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            preexec_fn=None if cpus is None else lambda: os.sched_setaffinity(0, cpus),
        )

    def wait_http(self, url: str, timeout: float = 120.0) -> None:
        """Until url answers below 500; RuntimeError with the log's tail if the process exits first."""

        def up() -> bool:
            if self.popen.poll() is not None:
                raise RuntimeError(f"{self.popen.args!r} s'est arrêté :\n{self.log.read_text()[-3000:]}")
            try:
                return httpx.get(url, timeout=2).status_code < 500
            except httpx.TransportError:
                return False

        wait_for(up, timeout=timeout, interval=0.1)

    def stop(self) -> None:
        """SIGTERM (a graceful stop), SIGKILL after 30 s."""
        if self.popen.poll() is None:
            self.popen.send_signal(signal.SIGTERM)
            try:
                self.popen.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        self._out.close()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for a server a test starts)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def delete_queues(amqp_url: str, names: Sequence[str]) -> None:
    """Deletes these RabbitMQ queues or streams, their ".dead" and ".dead.dead" queues; a missing one is
    no error."""
    import pika

    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        for name in names:
            for queue in (name, f"{name}.dead", f"{name}.dead.dead"):
                channel = connection.channel()
                try:
                    channel.queue_delete(queue)  # RabbitMQ answers delete-ok for a missing queue too
                    channel.close()
                except pika.exceptions.AMQPChannelError:
                    pass
    finally:
        connection.close()


def delete_delay_queues(amqp_url: str, brokers: Sequence[Any]) -> None:
    """Deletes the delay queues and exchanges these RabbitMQBrokers declared (tests give each broker a
    delay_prefix of its own)."""
    import pika

    from guichet.ports.broker import retry_delays
    from guichet.ports.brokers.rabbitmq import delay_name

    names = {
        delay_name(b.delay_prefix, seconds)
        for b in brokers
        for seconds in retry_delays(b.max_deliveries, b.retry_backoff, b.max_retry_backoff)
    }
    connection = pika.BlockingConnection(pika.URLParameters(amqp_url))
    try:
        channel = connection.channel()
        for name in sorted(names):
            channel.queue_delete(name)
            channel.exchange_delete(name)
    finally:
        connection.close()


class RecordingAnswerStream:
    """Wraps an answer stream and keeps every event published through it (a subscription ends at the
    first terminal event; tests often need all of them, redeliveries included)."""

    def __init__(self, stream: AnswerStream) -> None:
        self._stream = stream
        self.published: list[AnswerEvent] = []

    def publish(self, event: AnswerEvent) -> None:
        self._stream.publish(event)
        self.published.append(event)

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        return self._stream.subscribe(answer_id, since=since, stop=stop, heartbeat=heartbeat)

    def events(self, answer_id: str) -> list[AnswerEvent]:
        return [e for e in self.published if e.answer_id == answer_id]

    def ping(self) -> bool:
        return self._stream.ping()

    def close(self) -> None:
        self._stream.close()
