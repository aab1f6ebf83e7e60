"""The AnswerStream contract (ports/answer_stream.py), run on every implementation."""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pika
import pytest
from prometheus_client import REGISTRY

from guichet.ports.answer_stream import AnswerEvent, AnswerStream, AnswerStreamError, EventKind
from guichet.ports.answer_streams.local import LocalAnswerStream
from guichet.ports.answer_streams.rabbitmq import shard_index
from guichet.ports.answer_streams.relay import LOOKBACK_S, AnswerRelay, RelayedAnswerStream, SlowReader
from guichet.testing.helpers import wait_for

TIMEOUT = 10.0
HEARTBEAT = 0.2
SHARDS = 4
MakeStream = Callable[..., AnswerStream]


@dataclass
class Reading:
    """What one subscribe() running in a thread has yielded so far."""

    items: list[AnswerEvent | None] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)
    raised: BaseException | None = None

    @property
    def events(self) -> list[AnswerEvent]:
        return [item for item in self.items if item is not None]

    def wait_finished(self) -> None:
        assert self.finished.wait(TIMEOUT), "subscribe() did not return"
        assert self.raised is None, f"subscribe() raised {self.raised!r}"


@contextmanager
def reading(
    stream: AnswerStream, answer_id: str, *, since: float, heartbeat: float = HEARTBEAT
) -> Iterator[tuple[Reading, threading.Event]]:
    """subscribe() in a thread; stopped (and required to return) on exit."""
    stop = threading.Event()
    result = Reading()

    def run() -> None:
        try:
            for item in stream.subscribe(answer_id, since=since, stop=stop, heartbeat=heartbeat):
                result.items.append(item)
        except BaseException as exc:
            result.raised = exc
        finally:
            result.finished.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield result, stop
    finally:
        stop.set()
        thread.join(TIMEOUT)
        assert not thread.is_alive(), "subscribe() did not return after stop"


def answer(
    answer_id: str, kinds: list[EventKind], *, attempt: int = 1, ts: float | None = None
) -> list[AnswerEvent]:
    """The events of one attempt of answer_id: kinds in order, seq from 0, token data numbered."""
    now = time.time() if ts is None else ts
    return [
        AnswerEvent(answer_id, attempt, seq, kind, {"text": f"mot {seq} é", "offset": seq}, now + seq * 1e-3)
        for seq, kind in enumerate(kinds)
    ]


def same_shard(answer_id: str) -> str:
    """Another answer id that shares answer_id's shard (so a RabbitMQ reader has to skip its events)."""
    target = shard_index(answer_id, SHARDS)
    return next(
        f"{answer_id}-voisin-{n}"
        for n in range(100)
        if shard_index(f"{answer_id}-voisin-{n}", SHARDS) == target
    )


class AnswerStreamContract:
    """Subclasses provide make_stream (a factory fixture of streams sharing one backend)."""

    @pytest.fixture
    def make_stream(self) -> MakeStream:
        raise NotImplementedError

    @pytest.fixture
    def stream(self, make_stream: MakeStream) -> AnswerStream:
        return make_stream()

    def publish_all(self, stream: AnswerStream, events: list[AnswerEvent]) -> None:
        for event in events:
            stream.publish(event)

    def test_late_subscriber_gets_every_event_in_order(self, stream: AnswerStream) -> None:
        since = time.time()
        events = answer("r-tard", ["status", "sources", "token", "token", "token", "done"])
        self.publish_all(stream, events)
        with reading(stream, "r-tard", since=since) as (result, _stop):
            result.wait_finished()
        assert result.events == events

    def test_subscriber_started_first_gets_live_events(self, stream: AnswerStream) -> None:
        since = time.time()
        first, *rest = answer("r-direct", ["status", "token", "token", "done"])
        with reading(stream, "r-direct", since=since) as (result, _stop):
            stream.publish(first)
            wait_for(lambda: result.events == [first], timeout=TIMEOUT)
            assert not result.finished.is_set()
            self.publish_all(stream, rest)
            result.wait_finished()
        assert result.events == [first, *rest]

    def test_events_of_other_answers_are_not_yielded(self, stream: AnswerStream) -> None:
        since = time.time()
        mine = answer("r-moi", ["status", "token", "token", "done"])
        neighbour = answer(same_shard("r-moi"), ["status", "token", "token", "done"])
        other = answer("r-autre", ["status", "token", "done"])
        interleaved = [other[0], *[e for pair in zip(neighbour, mine, strict=True) for e in pair], *other[1:]]
        self.publish_all(stream, interleaved)
        with reading(stream, "r-moi", since=since) as (result, _stop):
            result.wait_finished()
        assert result.events == mine

    def test_heartbeat_when_idle(self, stream: AnswerStream) -> None:
        since = time.time()
        (token,) = answer("r-calme", ["token"])
        with reading(stream, "r-calme", since=since) as (result, _stop):
            wait_for(lambda: len(result.items) >= 2, timeout=TIMEOUT)
            assert result.items[:2] == [None, None]
            stream.publish(token)
            wait_for(lambda: token in result.items, timeout=TIMEOUT)
        assert result.events == [token]
        assert result.items[-1] == token

    @pytest.mark.parametrize("terminal", ["done", "error"])
    def test_returns_after_a_terminal_event(self, stream: AnswerStream, terminal: EventKind) -> None:
        since = time.time()
        events = answer("r-fin", ["status", "token", terminal, "token"])
        self.publish_all(stream, events)
        with reading(stream, "r-fin", since=since, heartbeat=30.0) as (result, _stop):
            result.wait_finished()
        assert result.events == events[:3]
        assert result.items[-1] == events[2]

    def test_stop_ends_it(self, stream: AnswerStream) -> None:
        since = time.time()
        (token,) = answer("r-stop", ["token"])
        with reading(stream, "r-stop", since=since, heartbeat=30.0) as (result, stop):
            stream.publish(token)
            wait_for(lambda: result.events == [token], timeout=TIMEOUT)
            stop.set()
            result.wait_finished()
        assert result.items == [token]

    def test_concurrent_publishers_keep_each_answer_complete_and_ordered(self, stream: AnswerStream) -> None:
        since = time.time()
        tokens: list[EventKind] = ["token"] * 20
        answers = {f"r-fil-{n}": answer(f"r-fil-{n}", ["status", *tokens, "done"]) for n in range(8)}
        barrier = threading.Barrier(len(answers))
        failures: list[BaseException] = []

        def publish(events: list[AnswerEvent]) -> None:
            try:
                barrier.wait(TIMEOUT)
                self.publish_all(stream, events)
            except BaseException as exc:
                failures.append(exc)

        threads = [threading.Thread(target=publish, args=(events,)) for events in answers.values()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT * 3)
        assert not failures
        for answer_id, events in answers.items():
            with reading(stream, answer_id, since=since) as (result, _stop):
                result.wait_finished()
            assert result.events == events, answer_id

    def test_events_older_than_since_are_skipped(self, stream: AnswerStream) -> None:
        now = time.time()
        since = now - 50
        old = AnswerEvent("r-vieux", 1, 0, "token", {"text": "ancien"}, now - 100)
        at_since = AnswerEvent("r-vieux", 2, 0, "status", {"status": "relance"}, since)
        fresh = answer("r-vieux", ["token", "done"], attempt=2, ts=now)
        self.publish_all(stream, [old, at_since, *fresh])
        with reading(stream, "r-vieux", since=since) as (result, _stop):
            result.wait_finished()
        assert result.events == [at_since, *fresh]

    def test_another_instance_sees_the_events(self, make_stream: MakeStream) -> None:
        writer, reader = make_stream(), make_stream()
        since = time.time()
        first, done = answer("r-ailleurs", ["token", "done"])
        with reading(reader, "r-ailleurs", since=since) as (result, _stop):
            writer.publish(first)
            wait_for(lambda: result.events == [first], timeout=TIMEOUT)
            writer.publish(done)
            result.wait_finished()
        assert result.events == [first, done]

    def test_ping(self, stream: AnswerStream) -> None:
        assert stream.ping() is True


class TestLocalAnswerStream(AnswerStreamContract):
    @pytest.fixture
    def make_stream(self, tmp_path: Path) -> Iterator[MakeStream]:
        opened: list[LocalAnswerStream] = []

        def make(retention: float = 3600.0) -> LocalAnswerStream:
            opened.append(LocalAnswerStream(tmp_path / "data" / "answer-events.sqlite3", retention=retention))
            return opened[-1]

        yield make
        for stream in opened:
            stream.close()

    def test_events_older_than_retention_are_pruned(self, make_stream: MakeStream) -> None:
        stream = make_stream(retention=60.0)
        now = time.time()
        expired = AnswerEvent("r-purge", 1, 0, "token", {"text": "périmé"}, now - 120)
        kept = AnswerEvent("r-purge", 1, 1, "done", {}, now - 30)
        self.publish_all(stream, [expired, kept])
        with reading(stream, "r-purge", since=0.0) as (result, _stop):
            result.wait_finished()
        assert result.events == [kept]

    def test_closed_stream_raises_answer_stream_error(self, stream: AnswerStream) -> None:
        stream.close()
        (token,) = answer("r-ferme", ["token"])
        with pytest.raises(AnswerStreamError):
            stream.publish(token)
        with pytest.raises(AnswerStreamError):
            next(iter(stream.subscribe("r-ferme", since=0.0, stop=threading.Event())))
        assert stream.ping() is False

    def test_unopenable_file_raises_answer_stream_error(self, tmp_path: Path) -> None:
        (tmp_path / "fichier").write_text("pas un dossier")
        with pytest.raises(AnswerStreamError):
            LocalAnswerStream(tmp_path / "fichier" / "answer-events.sqlite3")


@pytest.mark.rabbitmq
class TestRabbitMQAnswerStream(AnswerStreamContract):
    @pytest.fixture
    def prefix(self, unique_name: Callable[[str], str]) -> str:
        return unique_name("guichet-test-answers")

    @pytest.fixture
    def make_stream(self, amqp_url: str, prefix: str) -> Iterator[MakeStream]:
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        opened: list[RabbitMQAnswerStream] = []

        def make(retention: float = 3600.0) -> RabbitMQAnswerStream:
            opened.append(RabbitMQAnswerStream(amqp_url, shards=SHARDS, retention=retention, prefix=prefix))
            return opened[-1]

        yield make
        for stream in opened:
            stream.close()
        _delete_streams(amqp_url, [f"{prefix}.{n}" for n in range(SHARDS)])

    def test_events_go_to_their_shard_stream(self, stream: AnswerStream, prefix: str) -> None:
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        assert isinstance(stream, RabbitMQAnswerStream)
        assert stream.shard("r-1") == f"{prefix}.{shard_index('r-1', SHARDS)}"
        assert stream.streams == [f"{prefix}.{n}" for n in range(SHARDS)]

    def test_redeclaring_with_another_retention_keeps_working(self, make_stream: MakeStream) -> None:
        make_stream().publish(answer("r-avant", ["done"])[0])
        later = make_stream(retention=7200.0)
        since = time.time()
        events = answer("r-apres", ["token", "done"])
        self.publish_all(later, events)
        with reading(later, "r-apres", since=since) as (result, _stop):
            result.wait_finished()
        assert result.events == events

    def test_reader_connection_is_closed_when_the_generator_is(
        self, stream: AnswerStream, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        stream.publish(answer("r-ouvert", ["token"])[0])  # declares the streams, opens a publisher
        opened: list[Any] = []

        class Recording(pika.BlockingConnection):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                opened.append(self)

        monkeypatch.setattr(pika, "BlockingConnection", Recording)
        events = stream.subscribe("r-ouvert", since=time.time() - 5, stop=threading.Event(), heartbeat=30.0)
        assert next(events) is not None
        assert len(opened) == 1 and opened[0].is_open
        assert isinstance(events, Generator)
        events.close()
        assert not opened[0].is_open

    def test_publish_survives_one_dropped_connection(
        self, stream: AnswerStream, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from pika.adapters.blocking_connection import BlockingChannel

        since = time.time()
        events = answer("r-coupure", ["token", "token", "done"])
        stream.publish(events[0])  # a pooled connection now exists
        original = BlockingChannel.basic_publish
        calls: list[int] = []

        def dropped_once(channel: Any, *args: Any, **kwargs: Any) -> Any:
            calls.append(1)
            if len(calls) == 1:
                channel.connection.close()  # the pooled connection dies under the publisher
                raise pika.exceptions.StreamLostError("coupure simulée")
            return original(channel, *args, **kwargs)

        monkeypatch.setattr(BlockingChannel, "basic_publish", dropped_once)
        stream.publish(events[1])
        monkeypatch.undo()
        assert len(calls) == 2, "the publish was not retried"
        stream.publish(events[2])
        with reading(stream, "r-coupure", since=since) as (result, _stop):
            result.wait_finished()
        assert result.events == events

    def test_unreachable_broker(self, prefix: str) -> None:
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        stream = RabbitMQAnswerStream("amqp://guest:guest@127.0.0.1:1/", prefix=prefix)
        assert stream.ping() is False
        with pytest.raises(AnswerStreamError):
            stream.publish(answer("r-nulle-part", ["token"])[0])


def relayed(inner: Any) -> RelayedAnswerStream:
    """inner behind a relay of its own, as a function replica serves it (ports/answer_streams/relay.py)."""
    return RelayedAnswerStream(inner, AnswerRelay(inner, inner.tail(), retention=inner.retention))


class RelayContract(AnswerStreamContract):
    """The port's contract through the relay, and what the relay adds: one reader, bounded queues."""

    def test_a_slow_subscription_is_cut_and_the_others_get_everything(self, stream: AnswerStream) -> None:
        assert isinstance(stream, RelayedAnswerStream)
        since = time.time()
        events = answer("r-lent", ["status", *(["token"] * 8), "done"])
        with stream.relay.open("r-lent", since=since, wake=lambda: None, capacity=4) as slow:
            with reading(stream, "r-lent", since=since) as (result, _stop):
                self.publish_all(stream, events)
                result.wait_finished()
            assert result.events == events
            assert slow.take() == events[:4]  # what was queued before the cut
            with pytest.raises(SlowReader):
                slow.take()

    def test_a_subscription_older_than_the_relay_reads_on_its_own(self, make_stream: MakeStream) -> None:
        now = time.time()
        events = answer("r-ancien", ["status", "token", "done"], ts=now - 2 * LOOKBACK_S)
        writer = make_stream()
        self.publish_all(writer, events)
        fallbacks = REGISTRY.get_sample_value("guichet_answer_relay_fallback_reads_total") or 0.0
        with reading(make_stream(), "r-ancien", since=now - 3 * LOOKBACK_S) as (result, _stop):
            result.wait_finished()
        assert result.events == events
        assert REGISTRY.get_sample_value("guichet_answer_relay_fallback_reads_total") == fallbacks + 1

    def test_a_closed_backend_ends_the_subscriptions(self, stream: AnswerStream) -> None:
        assert isinstance(stream, RelayedAnswerStream)
        with reading(stream, "r-ferme", since=time.time(), heartbeat=30.0) as (result, _stop):
            wait_for(lambda: bool(stream.relay._subs), timeout=TIMEOUT)
            stream.inner.close()
            assert result.finished.wait(TIMEOUT)
        assert isinstance(result.raised, AnswerStreamError)
        with pytest.raises(AnswerStreamError):
            stream.relay.open("r-ferme", since=time.time(), wake=lambda: None)


class TestRelayedLocalAnswerStream(RelayContract):
    @pytest.fixture
    def make_stream(self, tmp_path: Path) -> Iterator[MakeStream]:
        opened: list[RelayedAnswerStream] = []

        def make(retention: float = 3600.0) -> RelayedAnswerStream:
            path = tmp_path / "data" / "answer-events.sqlite3"
            opened.append(relayed(LocalAnswerStream(path, retention=retention)))
            return opened[-1]

        yield make
        for stream in opened:
            stream.close()


@pytest.mark.rabbitmq
class TestRelayedRabbitMQAnswerStream(RelayContract):
    @pytest.fixture
    def prefix(self, unique_name: Callable[[str], str]) -> str:
        return unique_name("guichet-test-relay")

    @pytest.fixture
    def make_stream(self, amqp_url: str, prefix: str) -> Iterator[MakeStream]:
        from guichet.ports.answer_streams.rabbitmq import RabbitMQAnswerStream

        opened: list[RelayedAnswerStream] = []

        def make(retention: float = 3600.0) -> RelayedAnswerStream:
            inner = RabbitMQAnswerStream(amqp_url, shards=SHARDS, retention=retention, prefix=prefix)
            opened.append(relayed(inner))
            return opened[-1]

        yield make
        for stream in opened:
            stream.close()
        _delete_streams(amqp_url, [f"{prefix}.{n}" for n in range(SHARDS)])

    def test_many_subscriptions_share_one_reading_connection(
        self, stream: AnswerStream, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        since = time.time()
        stream.publish(answer("r-amorce", ["token"])[0])  # declares the streams, opens a publisher
        opened: list[Any] = []

        class Recording(pika.BlockingConnection):  # type: ignore[misc]
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, **kwargs)
                opened.append(self)

        monkeypatch.setattr(pika, "BlockingConnection", Recording)
        ids = [f"r-foule-{n}" for n in range(20)]
        with contextlib.ExitStack() as readers:
            results = [readers.enter_context(reading(stream, i, since=since))[0] for i in ids]
            events = {i: answer(i, ["status", "token", "done"]) for i in ids}
            for answer_events in events.values():
                self.publish_all(stream, answer_events)
            for answer_id, result in zip(ids, results, strict=True):
                result.wait_finished()
                assert result.events == events[answer_id]
        assert len(opened) == 1, "one connection for the relay's tail, none per subscription"

    def test_the_tail_resumes_exactly_where_its_connection_was_lost(
        self, stream: AnswerStream, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        from guichet.ports.answer_streams._rabbitmq_stream_tail import ShardTail

        assert isinstance(stream, RelayedAnswerStream)
        original = ShardTail._event
        dropped: list[int] = []

        def drop_once(tail: ShardTail, name: str, props: Any, body: bytes, start: float) -> Any:
            if (props.headers or {}).get("answer_id") == "r-coupe" and not dropped:
                headers = dict(props.headers)
                if b'"seq":3' in body:  # the connection dies before the 4th event is read
                    dropped.append(headers["x-stream-offset"])
                    raise pika.exceptions.StreamLostError("coupure simulée")
            return original(tail, name, props, body, start)

        monkeypatch.setattr(ShardTail, "_event", drop_once)
        since = time.time()
        events = answer("r-coupe", ["status", "token", "token", "token", "token", "done"])
        with reading(stream, "r-coupe", since=since) as (first, _stop):
            self.publish_all(stream, events)
            assert first.finished.wait(TIMEOUT)
        assert dropped and isinstance(first.raised, AnswerStreamError)  # its readers were told
        # Reconnected from the offset after the last event read: each event once, in order.
        wait_for(lambda: stream.relay._down is None and "r-coupe" in stream.relay._answers, timeout=TIMEOUT)
        with reading(stream, "r-coupe", since=since) as (again, _stop):
            again.wait_finished()
        assert again.events == events


def _delete_streams(url: str, names: list[str]) -> None:
    connection = pika.BlockingConnection(pika.URLParameters(url))
    try:
        channel = connection.channel()
        for name in names:
            channel.queue_delete(name)  # RabbitMQ answers delete-ok for a missing queue too
    finally:
        connection.close()


def test_shard_choice_is_stable_and_spreads_ids() -> None:
    # Pinned values: every process and every release must send an answer's events to the same shard.
    assert [shard_index(f"réponse-{n}", 4) for n in range(8)] == PINNED_SHARDS
    counts = [0] * SHARDS
    for n in range(2000):
        counts[shard_index(f"0190c2a4-{n:04x}-7000-8000-{n:012x}", SHARDS)] += 1
    assert min(counts) > 2000 / SHARDS * 0.8, counts
    assert shard_index("x", 1) == 0


PINNED_SHARDS = [1, 2, 1, 1, 1, 2, 3, 1]
