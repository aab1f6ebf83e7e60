"""The relay's own decisions (ports/answer_streams/relay.py) on a scripted tail: what it does when the tail
fails and comes back, and when it has let an answer go. The scripted tail certifies the relay only; the
contract suite (tests/contracts/test_answer_stream_contract.py) runs the relay on SQLite and RabbitMQ."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator

import pytest

from guichet.ports.answer_stream import AnswerEvent, AnswerStreamError
from guichet.ports.answer_streams import relay as relay_module
from guichet.ports.answer_streams.relay import AnswerRelay, Subscription
from guichet.testing.helpers import wait_for

Item = AnswerEvent | None | Exception


class ScriptedTail:
    """events() yields what the test puts; an exception put there is raised (then events() is called
    again, as after a lost connection)."""

    def __init__(self) -> None:
        self.items: queue.Queue[Item] = queue.Queue()
        self.calls = 0

    def events(self, start: float, stop: threading.Event) -> Iterator[AnswerEvent | None]:
        self.calls += 1
        while not stop.is_set():
            try:
                item = self.items.get(timeout=0.05)
            except queue.Empty:
                yield None
                continue
            if isinstance(item, Exception):
                raise item
            yield item

    def close(self) -> None:
        pass


class RecordingFallback:
    """The backend's own subscribe(): records who read on their own, yields the given events."""

    def __init__(self, events: list[AnswerEvent]) -> None:
        self.events = events
        self.reads: list[tuple[str, float]] = []

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        self.reads.append((answer_id, since))
        yield from (e for e in self.events if e.answer_id == answer_id and e.ts >= since)

    def publish(self, event: AnswerEvent) -> None:
        raise NotImplementedError

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


def event(answer_id: str, seq: int, kind: str = "token") -> AnswerEvent:
    return AnswerEvent(answer_id, 1, seq, kind, {"text": f"m{seq}", "offset": seq}, time.time())  # type: ignore[arg-type]


def drain(sub: Subscription, count: int) -> list[AnswerEvent]:
    got: list[AnswerEvent] = []
    wait_for(lambda: bool(got.extend(sub.take())) or len(got) >= count, timeout=10)
    return got


@pytest.fixture
def tail() -> ScriptedTail:
    return ScriptedTail()


@pytest.fixture
def relay(tail: ScriptedTail) -> Iterator[AnswerRelay]:
    relay = AnswerRelay(RecordingFallback([]), tail)
    yield relay
    relay.close()


def test_a_failed_tail_ends_the_subscriptions_refuses_new_ones_then_resumes(
    relay: AnswerRelay, tail: ScriptedTail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "RECONNECT_S", (0.3,))
    since = time.time() - 1
    sub = relay.open("r-1", since=since, wake=lambda: None)
    first = event("r-1", 0)
    tail.items.put(first)
    assert drain(sub, 1) == [first]
    tail.items.put(AnswerStreamError("connexion perdue"))
    wait_for(lambda: relay._down is not None, timeout=10)
    with pytest.raises(AnswerStreamError):
        sub.take()
    with pytest.raises(AnswerStreamError):
        relay.open("r-1", since=since, wake=lambda: None)
    second = event("r-1", 1)
    tail.items.put(second)  # the tail is read again: the relay is back
    wait_for(lambda: relay._down is None, timeout=10)
    assert tail.calls == 2
    again = relay.open("r-1", since=since, wake=lambda: None)
    assert drain(again, 2) == [first, second]  # what it held before the failure is still served


def test_an_answer_let_go_is_read_on_its_own(tail: ScriptedTail, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(relay_module, "GRACE_S", 0.0)
    monkeypatch.setattr(relay_module, "PRUNE_EVERY_S", 0.0)
    done = event("r-fini", 0, "done")
    fallback = RecordingFallback([done])
    relay = AnswerRelay(fallback, tail)
    try:
        since = time.time() - 1
        relay.open("r-autre", since=since, wake=lambda: None).close()  # starts the tail
        tail.items.put(done)
        wait_for(lambda: "r-fini" in relay._dropped, timeout=10)
        sub = relay.open("r-fini", since=since, wake=lambda: None)
        assert drain(sub, 1) == [done]
        assert fallback.reads == [("r-fini", since)]
        # Within the relay's memory, nobody reads on their own.
        relay.open("r-neuf", since=since, wake=lambda: None).close()
        assert [answer_id for answer_id, _ in fallback.reads] == ["r-fini"]
    finally:
        relay.close()


def test_wake_is_called_once_per_batch(relay: AnswerRelay, tail: ScriptedTail) -> None:
    wakes: list[int] = []
    sub = relay.open("r-lot", since=time.time() - 1, wake=lambda: wakes.append(1))
    for seq in range(5):
        tail.items.put(event("r-lot", seq))
    wait_for(lambda: relay._answers.get("r-lot") is not None and len(relay._answers["r-lot"].events) == 5)
    assert 1 <= len(wakes) <= 5
    before = len(wakes)
    assert len(sub.take()) == 5
    tail.items.put(event("r-lot", 5))
    wait_for(lambda: len(wakes) == before + 1, timeout=10)


def test_readers_of_an_answer_let_go_still_get_its_new_events(
    tail: ScriptedTail, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(relay_module, "IDLE_S", 0.0)
    monkeypatch.setattr(relay_module, "PRUNE_EVERY_S", 0.0)
    relay = AnswerRelay(RecordingFallback([]), tail)
    try:
        sub = relay.open("r-silence", since=time.time() - 1, wake=lambda: None)
        first = event("r-silence", 0)
        tail.items.put(first)  # then silence: its worker died, the relay lets the answer go
        wait_for(lambda: "r-silence" in relay._dropped, timeout=10)
        retry = AnswerEvent("r-silence", 2, 0, "status", {"status": "running"}, time.time())
        tail.items.put(retry)  # the job's next attempt
        assert drain(sub, 2) == [first, retry]
    finally:
        relay.close()


def test_a_closed_relay_refuses_new_subscriptions(relay: AnswerRelay) -> None:
    relay.open("r-avant", since=time.time(), wake=lambda: None).close()
    relay.close()
    with pytest.raises(AnswerStreamError):
        relay.open("r-apres", since=time.time(), wake=lambda: None)
