"""vLLM's scheduler, simulated: continuous batching in one asyncio loop, one engine step at a time.

Each step: waiting requests are admitted (FIFO) while fewer than max_num_seqs run and their KV cache
(prompt + answer, reserved up front: vLLM allocates it block by block and preempts instead, which only
matters near a full cache) fits; the step's token budget (max_num_batched_tokens) goes first to one
decode token per running sequence, then to prompt chunks (chunked prefill); the step lasts
Profile.step_seconds(...) / speed; then every decoding sequence has one more token and a sequence whose
prompt is done has its first token. Times the metrics report are simulated seconds (wall × speed).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from guichet.capacity.simulator.profile import Profile

# How far behind the ideal clock the loop may fall before it stops catching up (an overloaded CPU: the
# simulated GPU then runs slower than its profile, which the load tests would report as GPU time).
MAX_LAG_S = 0.05


@dataclass(eq=False)
class Sequence:
    """One request inside the engine. `changed` is set when its client has something new to read."""

    prompt_tokens: int
    target_tokens: int  # tokens it will produce
    finish_as: str  # "stop" (a whole answer) or "length" (cut by max_tokens)
    arrival: float = field(default_factory=time.monotonic)
    prefilled: int = 0
    generated: int = 0
    notified: int = 0
    admitted_at: float | None = None
    first_token_at: float | None = None
    finished_at: float | None = None
    cancelled: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def kv_tokens(self) -> int:
        return self.prompt_tokens + self.target_tokens

    @property
    def finish_reason(self) -> str | None:
        return self.finish_as if self.finished_at is not None else None


@dataclass(frozen=True)
class Step:
    seconds: float  # simulated
    decoding: tuple[Sequence, ...]
    prefill: tuple[tuple[Sequence, int], ...]  # (sequence, prompt tokens processed this step)


class Engine:
    def __init__(
        self,
        profile: Profile,
        *,
        speed: float = 1.0,
        stream_interval: int = 1,
        on_finish: Callable[[Sequence], None] | None = None,
    ) -> None:
        if speed <= 0 or stream_interval < 1:
            raise ValueError("speed > 0 et stream_interval ≥ 1")
        self.profile, self.speed, self.stream_interval = profile, speed, stream_interval
        self.waiting: deque[Sequence] = deque()
        self.running: list[Sequence] = []
        self.kv_used = 0
        self.steps = 0
        self._on_finish = on_finish
        self._wake = asyncio.Event()

    # --- what clients and metrics see -------------------------------------------------------------------
    def submit(self, seq: Sequence) -> None:
        self.waiting.append(seq)
        self._wake.set()

    def cancel(self, seq: Sequence) -> None:
        """The client went away: its slot and KV cache are freed at once."""
        seq.cancelled = True
        if seq in self.waiting:
            self.waiting.remove(seq)
        elif seq in self.running:
            self._release(seq)

    @property
    def kv_usage(self) -> float:
        return self.kv_used / self.profile.kv_cache_tokens

    def simulated(self, wall_seconds: float) -> float:
        return wall_seconds * self.speed

    # --- the loop -----------------------------------------------------------------------------------------
    async def run(self) -> None:
        """Steps end on an ideal clock (previous end + step time), not "now + step time": the loop's own
        overhead (a millisecond or so per step on a busy CPU) would otherwise slow every step down."""
        clock = time.monotonic()
        while True:
            if not self.waiting and not self.running:
                self._wake.clear()
                await self._wake.wait()
                clock = time.monotonic()
                continue
            step = self.plan()
            clock = max(clock + step.seconds / self.speed, time.monotonic() - MAX_LAG_S)
            await asyncio.sleep(max(0.0, clock - time.monotonic()))
            self.apply(step, time.monotonic())

    def plan(self) -> Step:
        """Admits what fits, then splits this step's token budget; pure apart from admission."""
        self._admit()
        decoding = tuple(s for s in self.running if s.prefilled >= s.prompt_tokens)
        budget = self.profile.max_num_batched_tokens - len(decoding)
        prefill: list[tuple[Sequence, int]] = []
        for seq in self.running:
            if budget <= 0:
                break
            left = seq.prompt_tokens - seq.prefilled
            if left > 0:
                chunk = min(left, budget)
                prefill.append((seq, chunk))
                budget -= chunk
        prompt = sum(n for _, n in prefill)
        return Step(self.profile.step_seconds(len(decoding), prompt), decoding, tuple(prefill))

    def apply(self, step: Step, now: float) -> None:
        self.steps += 1
        for seq, chunk in step.prefill:
            seq.prefilled += chunk
            if seq.prefilled >= seq.prompt_tokens and not seq.cancelled:
                seq.first_token_at = now
                self._produce(seq, now)
        for seq in step.decoding:
            if not seq.cancelled:
                self._produce(seq, now)

    def _admit(self) -> None:
        limit, capacity = self.profile.max_num_seqs, self.profile.kv_cache_tokens
        while self.waiting and len(self.running) < limit:
            seq = self.waiting[0]
            if self.running and self.kv_used + seq.kv_tokens > capacity:
                break  # FIFO, as vLLM: the head waits for room, nobody overtakes it
            self.waiting.popleft()
            seq.admitted_at = time.monotonic()
            self.running.append(seq)
            self.kv_used += seq.kv_tokens

    def _produce(self, seq: Sequence, now: float) -> None:
        seq.generated += 1
        if seq.generated >= seq.target_tokens:
            seq.finished_at = now
            self._release(seq)
            if self._on_finish is not None:
                self._on_finish(seq)
        if (
            seq.finished_at is not None
            or seq.generated == 1
            or seq.generated - seq.notified >= self.stream_interval
        ):
            seq.notified = seq.generated
            seq.changed.set()

    def _release(self, seq: Sequence) -> None:
        self.running.remove(seq)
        self.kv_used -= seq.kv_tokens
