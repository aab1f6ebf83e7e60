"""The SSE relay (api/sse.py) without HTTP: a scripted answer stream, a real answer store."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from guichet.answer.record import AnswerRecord, AskJob, SourceRef, new_answer_id
from guichet.answer.store import AnswerRepository
from guichet.api.sse import KEEP_ALIVE, answer_frames, parse_last_event_id
from guichet.ports.answer_stream import AnswerEvent, AnswerStreamError
from guichet.ports.stores.local import LocalObjectStore

Frame = dict[str, Any]
Item = AnswerEvent | None | Exception


class ScriptedStream:
    """subscribe() yields the next script (a list of events, None heartbeats, or an exception to raise)."""

    def __init__(self, *scripts: list[Item]) -> None:
        self.scripts = list(scripts)
        self.subscriptions: list[float] = []

    def publish(self, event: AnswerEvent) -> None:
        raise NotImplementedError

    def subscribe(
        self, answer_id: str, *, since: float, stop: threading.Event, heartbeat: float = 15.0
    ) -> Iterator[AnswerEvent | None]:
        self.subscriptions.append(since)
        assert self.scripts, "subscribed once more than scripted"
        script = self.scripts.pop(0)
        for item in script:
            if isinstance(item, Exception):
                raise item
            if item is not None:
                assert item.answer_id == answer_id
            yield item
            if item is not None and item.terminal:
                return

    def ping(self) -> bool:
        return True

    def close(self) -> None:
        pass


@pytest.fixture
def answers(tmp_path: Path) -> AnswerRepository:
    return AnswerRepository(LocalObjectStore(tmp_path / "answers"))


def queued(answers: AnswerRepository) -> AnswerRecord:
    record = AnswerRecord.queued(AskJob(new_answer_id(), "Comment refaire ma carte d'identité ?"))
    answers.put(record)
    return record


def finished(record: AnswerRecord, answer: str, attempt: int = 1) -> AnswerRecord:
    source = SourceRef(1, "F1341", "Carte d'identité", "https://www.service-public.fr/F1341", "Extrait.")
    return replace(
        record, status="done", answer=answer, sources=(source,), mode="extractive", attempt=attempt
    )


def as_json(record: AnswerRecord) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(record.to_json())
    return data


def ev(record: AnswerRecord, attempt: int, seq: int, kind: str, /, **data: Any) -> AnswerEvent:
    return AnswerEvent(record.id, attempt, seq, kind, data, time.time())  # type: ignore[arg-type]


def tokens(record: AnswerRecord, attempt: int, pieces: list[str], first_seq: int = 1) -> list[AnswerEvent]:
    out, offset = [], 0
    for i, piece in enumerate(pieces):
        out.append(ev(record, attempt, first_seq + i, "token", text=piece, offset=offset))
        offset += len(piece)
    return out


def run(record: AnswerRecord, answers: AnswerRepository, stream: ScriptedStream, **kw: Any) -> list[Frame]:
    stop = threading.Event()
    return [parse(f) for f in answer_frames(record, answers, stream, stop=stop, heartbeat=0.01, **kw)]


def parse(raw: str) -> Frame:
    assert raw.endswith("\n\n")
    if raw == KEEP_ALIVE:
        return {"event": "keep-alive"}
    fields = dict(line.split(": ", 1) for line in raw.strip("\n").split("\n"))
    return {"event": fields["event"], "id": fields.get("id"), "data": json.loads(fields["data"])}


def draft_of(frames: list[Frame]) -> str:
    """What a client following the protocol holds: offsets applied, reset honoured."""
    text = ""
    for f in frames:
        if f["event"] == "status" and f["data"].get("reset"):
            text = ""
        elif f["event"] == "token":
            text = text[: f["data"]["offset"]] + f["data"]["text"]
    return text


def test_a_finished_answer_is_replayed_whole(answers: AnswerRepository) -> None:
    record = finished(queued(answers), "Demandez-la en mairie [1].")
    frames = run(record, answers, ScriptedStream())
    assert [f["event"] for f in frames] == ["status", "token", "sources", "done"]
    assert frames[1]["data"] == {"text": "Demandez-la en mairie [1].", "offset": 0}
    assert frames[2]["data"]["sources"][0]["id"] == "F1341"
    assert frames[3]["data"] == as_json(record)
    assert all(f["id"] == "1-final" for f in frames)


def test_a_failed_answer_ends_with_its_error(answers: AnswerRepository) -> None:
    record = queued(answers).failed("file_indisponible", "La file est injoignable.")
    frames = run(record, answers, ScriptedStream())
    assert [f["event"] for f in frames] == ["status", "error"]
    assert frames[0]["data"]["status"] == "failed"
    assert frames[1]["data"] == {"code": "file_indisponible", "message": "La file est injoignable."}


def test_a_client_resuming_on_a_finished_answer_gets_only_the_record(answers: AnswerRepository) -> None:
    record = finished(queued(answers), "Réponse.")
    frames = run(record, answers, ScriptedStream(), last_event_id="1-4")
    assert [f["event"] for f in frames] == ["done"]


def test_live_events_are_relayed_in_order_with_their_ids(answers: AnswerRepository) -> None:
    record = queued(answers)
    done = finished(record, "Allez en mairie.")
    script: list[Item] = [
        ev(record, 1, 0, "status", status="running", attempt=1),
        ev(record, 1, 1, "sources", sources=[]),
        *tokens(record, 1, ["Allez ", "en mairie."], first_seq=2),
        ev(record, 1, 4, "done", **done.to_dict()),
    ]
    stream = ScriptedStream(script)
    frames = run(record, answers, stream)
    assert [f["event"] for f in frames] == ["status", "status", "sources", "token", "token", "done"]
    assert frames[0]["data"] == {"status": "queued", "attempt": 0} and frames[0]["id"] is None
    assert [f["id"] for f in frames[1:]] == ["1-0", "1-1", "1-2", "1-3", "1-4"]
    assert draft_of(frames) == "Allez en mairie."
    assert stream.subscriptions[0] <= record.created_at  # events published before the reader are read


def test_duplicates_are_skipped(answers: AnswerRepository) -> None:
    record = queued(answers)
    first, second = tokens(record, 1, ["Bon", "jour"])
    done = ev(record, 1, 3, "done", **finished(record, "Bonjour").to_dict())
    frames = run(record, answers, ScriptedStream([first, first, second, first, second, done]))
    assert [f["event"] for f in frames] == ["status", "token", "token", "done"]
    assert "".join(f["data"]["text"] for f in frames if f["event"] == "token") == "Bonjour"


def test_a_new_attempt_resets_the_draft(answers: AnswerRepository) -> None:
    record = queued(answers)
    done = finished(record, "Nouvelle réponse.", attempt=2)
    script: list[Item] = [
        *tokens(record, 1, ["Ancienne ", "répo"]),
        ev(record, 2, 0, "status", status="running", attempt=2),
        tokens(record, 1, ["x"], first_seq=3)[0],  # the dead attempt's last gasp
        *tokens(record, 2, ["Nouvelle ", "réponse."]),
        ev(record, 2, 3, "done", **done.to_dict()),
    ]
    frames = run(record, answers, ScriptedStream(script))
    resets = [f for f in frames if f["event"] == "status" and f["data"].get("reset")]
    assert [r["data"] for r in resets] == [{"status": "restarted", "attempt": 2, "reset": True}]
    assert "1-3" not in [f["id"] for f in frames]
    assert draft_of(frames) == "Nouvelle réponse."


def test_no_reset_when_nothing_was_relayed_and_dead_attempts_are_skipped(answers: AnswerRepository) -> None:
    record = queued(answers).running(2)  # the reader arrives during the second attempt
    done = finished(record, "Deux.", attempt=2)
    script: list[Item] = [
        *tokens(record, 1, ["Un."]),
        *tokens(record, 2, ["Deux."]),
        ev(record, 2, 2, "done", **done.to_dict()),
    ]
    frames = run(record, answers, ScriptedStream(script))
    assert [f["event"] for f in frames] == ["status", "token", "done"]
    assert frames[1]["id"] == "2-1"


def test_a_lost_done_is_recovered_from_the_store_on_heartbeat(answers: AnswerRepository) -> None:
    record = queued(answers)
    done = finished(record, "Bonjour")
    script: list[Item] = [*tokens(record, 1, ["Bon"]), None]

    class StoringStream(ScriptedStream):
        def subscribe(self, *args: Any, **kw: Any) -> Iterator[AnswerEvent | None]:
            for item in super().subscribe(*args, **kw):
                if item is None:  # the worker stored the record; its "done" event never made it
                    answers.put(done)
                yield item

    frames = run(record, answers, StoringStream(script))
    assert [f["event"] for f in frames] == ["status", "token", "done"]
    assert frames[-1]["data"] == as_json(done)


def test_heartbeats_keep_the_connection_alive(answers: AnswerRepository) -> None:
    record = queued(answers)
    done = ev(record, 1, 0, "done", **finished(record, "x").to_dict())
    frames = run(record, answers, ScriptedStream([None, None, done]))
    assert [f["event"] for f in frames] == ["status", "keep-alive", "keep-alive", "done"]


def test_last_event_id_resumes_after_that_event(answers: AnswerRepository) -> None:
    record = queued(answers).running(1)
    pieces = tokens(record, 1, ["Un ", "deux ", "trois."])
    done = ev(record, 1, 4, "done", **finished(record, "Un deux trois.").to_dict())
    frames = run(record, answers, ScriptedStream([*pieces, done]), last_event_id="1-2")
    assert [f["id"] for f in frames if f["event"] == "token"] == ["1-3"]
    assert not any(f["data"].get("reset") for f in frames if f["event"] == "status")


def test_resuming_into_a_newer_attempt_resets_the_draft(answers: AnswerRepository) -> None:
    record = queued(answers).running(2)
    done = ev(record, 2, 2, "done", **finished(record, "Deux.", attempt=2).to_dict())
    script: list[Item] = [*tokens(record, 1, ["Un", "."]), *tokens(record, 2, ["Deux."]), done]
    frames = run(record, answers, ScriptedStream(script), last_event_id="1-1")
    events = [(f["event"], f["data"].get("reset")) for f in frames]
    assert events == [("status", None), ("status", True), ("token", None), ("done", None)]


def test_a_skipped_terminal_event_ends_with_the_stored_record(answers: AnswerRepository) -> None:
    record = queued(answers).running(2)
    stale_done = ev(record, 1, 1, "done", **finished(record, "Vieille.").to_dict())
    answers.put(finished(record, "Nouvelle.", attempt=2))  # the subscription ends on the stale event
    frames = run(record, answers, ScriptedStream([stale_done]))
    assert [f["event"] for f in frames] == ["status", "done"]
    assert frames[-1]["data"]["answer"] == "Nouvelle."


def test_a_skipped_terminal_event_resubscribes_until_the_answer_is_final(answers: AnswerRepository) -> None:
    record = queued(answers).running(2)
    stale_done = ev(record, 1, 1, "done", **finished(record, "Vieille.").to_dict())
    final = finished(record, "Nouvelle.", attempt=2)

    class FinishingStream(ScriptedStream):
        def subscribe(self, *args: Any, **kw: Any) -> Iterator[AnswerEvent | None]:
            if len(self.subscriptions) == 1:  # the second subscription: attempt 2 has finished meanwhile
                answers.put(final)
            return super().subscribe(*args, **kw)

    stream = FinishingStream([stale_done], [stale_done])
    frames = run(record, answers, stream)
    assert len(stream.subscriptions) == 2
    assert [f["event"] for f in frames] == ["status", "keep-alive", "done"]
    assert frames[-1]["data"]["answer"] == "Nouvelle."


def test_an_unreachable_stream_falls_back_to_the_store(answers: AnswerRepository) -> None:
    record = queued(answers)
    down = AnswerStreamError("flux injoignable")
    stream = ScriptedStream([down], [down])  # still down when subscribing once more
    stop = threading.Event()
    frames = answer_frames(record, answers, stream, stop=stop, heartbeat=0.01)
    assert parse(next(frames))["event"] == "status"
    assert next(frames) == KEEP_ALIVE  # still waiting on the store
    assert len(stream.subscriptions) == 2
    answers.put(finished(record, "Enfin."))
    rest = [parse(f) for f in frames if f != KEEP_ALIVE]
    assert [f["event"] for f in rest] == ["done"] and rest[0]["data"]["answer"] == "Enfin."


def test_a_stream_blip_is_followed_by_one_more_subscription(answers: AnswerRepository) -> None:
    record = queued(answers)
    token = AnswerEvent(record.id, 1, 0, "token", {"text": "Bonjour", "offset": 0}, record.created_at)
    done = AnswerEvent(record.id, 1, 1, "done", finished(record, "Bonjour").to_dict(), record.created_at)
    stream = ScriptedStream([token, AnswerStreamError("connexion perdue")], [token, done])
    frames = [
        parse(f) for f in answer_frames(record, answers, stream, stop=threading.Event(), heartbeat=0.01)
    ]
    assert [f["event"] for f in frames] == ["status", "token", "done"]  # live again, the token not repeated


def test_stop_ends_the_frames(answers: AnswerRepository) -> None:
    record = queued(answers)
    stop = threading.Event()
    stop.set()
    frames = list(answer_frames(record, answers, ScriptedStream([None] * 5), stop=stop, heartbeat=0.01))
    assert [parse(f)["event"] for f in frames] == ["status"]


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, None), ("", None), ("3-17", (3, 17)), ("2-final", (0, -1)), ("nimporte", (0, -1))],
)
def test_parse_last_event_id(value: str | None, expected: tuple[int, int] | None) -> None:
    assert parse_last_event_id(value) == expected
