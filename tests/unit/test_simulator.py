"""The simulated GPU: its cost model and its scheduler, stepped by hand (no sleeping, no clock)."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from guichet.capacity.simulator import DEFAULT_PROFILE, Engine, Profile, ProfileError, Sequence, load_profile
from guichet.capacity.simulator.filler import natural_length, tokens_text

SMALL = dataclasses.replace(
    load_profile(DEFAULT_PROFILE),
    name="small",
    max_num_seqs=2,
    max_num_batched_tokens=64,
    kv_cache_tokens=1000,
)


def engine(profile: Profile = SMALL) -> Engine:
    return Engine(profile)


def sequences(count: int, prompt: int = 10, output: int = 5) -> list[Sequence]:
    return [Sequence(prompt, output, "stop") for _ in range(count)]


def step(e: Engine) -> float:
    planned = e.plan()
    e.apply(planned, 0.0)
    return planned.seconds


def test_bundled_profile_is_the_h100_one_and_cites_sources() -> None:
    profile = load_profile()
    assert profile.name == DEFAULT_PROFILE and "H100" in profile.gpu
    assert all(s.startswith("https://") for s in profile.sources) and profile.sources


def test_decode_per_sequence_slows_as_batch_grows_while_throughput_rises() -> None:
    p = load_profile()
    speeds = [p.decode_tokens_per_s(b) for b in (1, 8, 64, 256)]
    throughputs = [p.throughput_tokens_per_s(b) for b in (1, 8, 64, 256)]
    assert speeds == sorted(speeds, reverse=True) and len(set(speeds)) == 4
    assert throughputs == sorted(throughputs) and len(set(throughputs)) == 4


def test_prefill_cost_grows_with_the_prompt() -> None:
    p = load_profile()
    assert p.prefill_seconds(100) < p.prefill_seconds(2000) < p.prefill_seconds(20000)
    assert p.prompt_tokens(8000) == 2000  # characters / 4


def test_four_requests_with_two_slots_two_wait() -> None:
    e = engine()
    for seq in sequences(4):
        e.submit(seq)
    e.plan()
    assert len(e.running) == 2 and len(e.waiting) == 2


def test_waiting_requests_start_when_a_slot_frees() -> None:
    e = engine()
    first, second, third = sequences(3, output=3)
    for seq in (first, second, third):
        e.submit(seq)
    while first.finish_reason is None:
        step(e)
    assert first.generated == 3 and third.generated == 0
    e.plan()
    assert third in e.running and not e.waiting


def test_a_bigger_batch_makes_each_step_longer() -> None:
    wide = dataclasses.replace(SMALL, max_num_seqs=8, kv_cache_tokens=10_000)
    durations = {}
    for batch in (1, 2, 8):
        e = engine(wide)
        for seq in sequences(batch, output=50):
            e.submit(seq)
        step(e)  # prefill
        durations[batch] = step(e)  # a pure decode step
    assert durations[1] < durations[2] < durations[8]


def test_prompt_is_prefilled_in_chunks_before_the_first_token() -> None:
    e = engine()
    (seq,) = sequences(1, prompt=150)  # budget 64 per step: 64 + 64 + 22
    e.submit(seq)
    step(e)
    step(e)
    assert seq.generated == 0 and seq.prefilled == 128
    step(e)
    assert seq.generated == 1 and seq.first_token_at is not None


def test_kv_cache_full_keeps_requests_waiting() -> None:
    tight = dataclasses.replace(SMALL, max_num_seqs=8, kv_cache_tokens=300)
    e = engine(tight)
    for seq in sequences(3, prompt=100, output=50):
        e.submit(seq)
    e.plan()
    assert len(e.running) == 2 and len(e.waiting) == 1 and e.kv_usage == pytest.approx(1.0)


def test_cancel_frees_the_slot() -> None:
    e = engine()
    seqs = sequences(3)
    for seq in seqs:
        e.submit(seq)
    e.plan()
    e.cancel(seqs[0])
    e.plan()
    assert seqs[2] in e.running and seqs[0] not in e.running and e.kv_used == 30


def test_stream_interval_wakes_the_client_every_n_tokens() -> None:
    e = Engine(SMALL, stream_interval=3)
    (seq,) = sequences(1, output=7)
    e.submit(seq)
    woken = []
    while seq.finish_reason is None:
        step(e)
        woken.append(seq.changed.is_set())
        seq.changed.clear()
    # first token at once, then every 3 tokens, and the end
    assert woken == [True, False, False, True, False, False, True]


def test_the_loop_serves_a_request() -> None:
    fast = Engine(SMALL, speed=1000.0)

    async def scenario() -> int:
        task = asyncio.create_task(fast.run())
        (seq,) = sequences(1, output=4)
        fast.submit(seq)
        while seq.finish_reason is None:
            await seq.changed.wait()
            seq.changed.clear()
        task.cancel()
        return seq.generated

    assert asyncio.run(scenario()) == 4


def test_filler_ends_on_a_sentence_and_cites_without_numbers() -> None:
    n = natural_length(50)
    text = tokens_text(0, n)
    assert n >= 50 and text.rstrip().endswith("[1].")
    assert not any(ch.isdigit() for ch in text.replace("[1]", ""))


def test_a_bad_profile_is_refused_in_french(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    body = load_profile().to_json() | {"max_num_seqs": 0}
    path.write_text(json.dumps(body), encoding="utf-8")
    with pytest.raises(ProfileError, match="doit être positif"):
        load_profile(path)
    with pytest.raises(ProfileError, match="introuvable"):
        load_profile("no-such-gpu")


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--speed", "0"], "--speed doit être positif"), (["--profile", "a100-nope"], "introuvable")],
)
def test_command_line_refuses_bad_options_in_french(args: list[str], message: str) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "guichet.capacity.simulator", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and message in result.stderr
