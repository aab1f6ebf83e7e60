"""Reading the OpenAI chat stream: SSE framing, chunk parsing, where finish_reason and usage land."""

from __future__ import annotations

import json
from typing import Any

import pytest

from guichet.ports.llm import ChatDelta, LLMUnavailable, Usage
from guichet.ports.llms._openai_stream import deltas, error_message, sse_data


def chunk(content: str | None = None, finish: str | None = None, **extra: Any) -> str:
    delta = {} if content is None else {"content": content}
    return json.dumps({"object": "chat.completion.chunk", "choices": [
        {"index": 0, "delta": delta, "finish_reason": finish}], **extra})  # fmt: skip


USAGE = json.dumps({"choices": [], "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11}})


def test_sse_framing() -> None:
    lines = [
        ": ping - keep-alive comment",
        "event: message",
        "id: 7",
        "data: first",
        "",
        "",  # several blank lines make no empty event
        "data:no-space",
        "",
        "data: line one",
        "data: line two",
        "",
        "retry: 100",
        "data: last, without its blank line",
    ]
    assert list(sse_data(lines)) == [
        "first",
        "no-space",
        "line one\nline two",
        "last, without its blank line",
    ]


def test_text_then_finish_then_usage_chunk() -> None:
    role = json.dumps({"choices": [{"delta": {"role": "assistant"}, "finish_reason": None}]})
    events = [role, chunk("Bon"), chunk(""), chunk(None), chunk("jour"), chunk(None, "stop"), USAGE, "[DONE]"]
    assert list(deltas(events)) == [ChatDelta("Bon"), ChatDelta("jour"), ChatDelta("", "stop", Usage(9, 2))]


def test_text_in_the_finishing_chunk_is_kept() -> None:
    assert list(deltas([chunk("Fin.", "length"), "[DONE]"])) == [ChatDelta("Fin.", "length", None)]


def test_usage_on_every_chunk_keeps_the_latest() -> None:
    first = chunk("a", usage={"prompt_tokens": 9, "completion_tokens": 1})
    last = chunk(None, "stop", usage={"prompt_tokens": 9, "completion_tokens": 2})
    assert list(deltas([first, last]))[-1] == ChatDelta("", "stop", Usage(9, 2))


def test_done_ends_the_stream_whatever_follows() -> None:
    assert list(deltas([chunk("a", "stop"), "[DONE]", "not json"])) == [ChatDelta("a", "stop")]


def test_null_content_and_missing_choices_are_empty() -> None:
    events = [json.dumps({"choices": [{"delta": {"content": None}, "finish_reason": None}]}),
              json.dumps({"id": "x"}), chunk("ok", "stop")]  # fmt: skip
    assert list(deltas(events)) == [ChatDelta("ok", "stop")]


def test_end_without_finish_reason_is_unavailable_after_the_text() -> None:
    received: list[str] = []
    with pytest.raises(LLMUnavailable, match="interrompue"):
        for delta in deltas([chunk("a"), chunk("b"), "[DONE]"]):
            received.append(delta.text)
    assert received == ["a", "b"]


@pytest.mark.parametrize("reason", ["abort", "error"])
def test_a_server_giving_up_is_unavailable_not_a_finish(reason: str) -> None:
    # vLLM ends an aborted request (engine stopping, KV cache lost) with finish_reason "abort".
    with pytest.raises(LLMUnavailable, match=reason):
        list(deltas([chunk("Faites la demande"), chunk("", reason), USAGE, "[DONE]"]))


@pytest.mark.parametrize("reason", ["length", "repetition", "content_filter"])
def test_other_reasons_are_passed_on_for_the_caller_to_treat_as_cut(reason: str) -> None:
    assert list(deltas([chunk("a", reason), "[DONE]"]))[-1].finish_reason == reason


def test_empty_stream_is_unavailable() -> None:
    with pytest.raises(LLMUnavailable):
        list(deltas([]))


@pytest.mark.parametrize(
    "data", ["{not json", "[1, 2]", '{"choices": "oops"}', '{"choices": [{"delta": 3}]}']
)
def test_unreadable_chunk_is_unavailable(data: str) -> None:
    with pytest.raises(LLMUnavailable, match="illisible"):
        list(deltas([chunk("a"), data]))


def test_error_event_is_unavailable() -> None:
    error = json.dumps({"error": {"message": "CUDA out of memory", "code": 500}})
    with pytest.raises(LLMUnavailable, match="CUDA out of memory"):
        list(deltas([chunk("a"), error]))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('{"error": {"message": "too long", "type": "invalid_request_error"}}', "too long"),
        ('{"error": "Input validation error"}', "Input validation error"),
        ('{"detail": "Not Found"}', "Not Found"),
        ("<html>Bad Gateway</html>", "<html>Bad Gateway</html>"),
    ],
)
def test_error_message_of_each_server_shape(body: str, message: str) -> None:
    assert error_message(body) == message


def test_a_lone_surrogate_from_the_server_is_replaced() -> None:
    chunk = '{"choices": [{"delta": {"content": "a\\ud800b"}, "finish_reason": "stop"}]}'
    text = "".join(d.text for d in deltas([chunk]))
    assert text == "a?b"
    text.encode("utf-8")  # storable and sendable
