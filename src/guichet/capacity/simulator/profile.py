"""A simulated GPU: the cost model of one vLLM replica, read from a JSON profile (data, not code).

Time model (seconds, on the simulated GPU), one engine step at a time as vLLM's scheduler does:
    t_step = decode_base_s + decode_per_seq_s * decoding_sequences + prefill_per_token_s * prompt_tokens
Every decoding sequence gets one token per step, so a sequence's decode speed is 1 / t_step: it falls as
the batch grows, while the replica's throughput (batch / t_step) rises towards 1 / decode_per_seq_s.
Prompt tokens are not tokenized: they are counted as characters / chars_per_token (≈ 4 for French and
English with Llama 3's tokenizer), which is what a capacity estimate needs, not an exact count.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

DEFAULT_PROFILE = "h100-llama3-8b"


class ProfileError(ValueError):
    """A profile that cannot be read or is inconsistent (message in French, for the operator)."""


@dataclass(frozen=True)
class Profile:
    name: str
    model: str
    gpu: str
    max_num_seqs: int  # vLLM --max-num-seqs: sequences decoded together; more requests wait
    max_num_batched_tokens: int  # tokens one step may process (decode tokens + prefill chunk)
    kv_cache_tokens: int  # KV-cache capacity in tokens (prompt + output reserved per sequence)
    max_model_len: int  # prompt + max_tokens above this is refused, as vLLM does (400)
    decode_base_s: float  # step time with one sequence (memory-bound weight read)
    decode_per_seq_s: float  # added per decoding sequence (KV reads, sampling)
    prefill_per_token_s: float  # added per prompt token processed in the step (compute-bound)
    output_tokens: int  # length of a natural answer, when max_tokens does not cut it first
    chars_per_token: float = 4.0
    sources: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        positive = ("max_num_seqs", "max_num_batched_tokens", "kv_cache_tokens", "max_model_len")
        for name in (*positive, "decode_base_s", "output_tokens", "chars_per_token"):
            if not getattr(self, name) > 0:
                raise ProfileError(f"profil {self.name!r} : {name} doit être positif")
        if self.decode_per_seq_s < 0 or self.prefill_per_token_s < 0:
            raise ProfileError(f"profil {self.name!r} : les coûts par séquence et par jeton sont ≥ 0")

    def step_seconds(self, decoding: int, prefill_tokens: int = 0) -> float:
        return (
            self.decode_base_s + self.decode_per_seq_s * decoding + self.prefill_per_token_s * prefill_tokens
        )

    def decode_tokens_per_s(self, batch: int) -> float:
        """One sequence's decode speed when `batch` sequences decode together."""
        return 1.0 / self.step_seconds(max(1, batch))

    def throughput_tokens_per_s(self, batch: int) -> float:
        """The replica's output tokens per second with `batch` sequences decoding."""
        return max(1, batch) * self.decode_tokens_per_s(batch)

    def prefill_seconds(self, prompt_tokens: int) -> float:
        """Time to first token of a lone request: its prompt in chunks of max_num_batched_tokens."""
        chunks = -(-prompt_tokens // self.max_num_batched_tokens)
        return max(1, chunks) * self.decode_base_s + self.prefill_per_token_s * prompt_tokens

    def prompt_tokens(self, chars: int) -> int:
        return max(1, round(chars / self.chars_per_token))

    def to_json(self) -> dict[str, Any]:
        body = asdict(self)
        body["sources"] = list(self.sources)
        return body


def load_profile(name_or_path: str | Path = DEFAULT_PROFILE) -> Profile:
    """A bundled profile by name (`h100-llama3-8b`) or a JSON file by path."""
    path = Path(name_or_path)
    try:
        if path.suffix == ".json" or path.exists():
            text = path.read_text(encoding="utf-8")
        else:
            text = (
                resources.files(__package__).joinpath("profiles", f"{name_or_path}.json").read_text("utf-8")
            )
    except (OSError, ValueError) as exc:
        raise ProfileError(f"profil introuvable : {name_or_path} ({bundled_names()} sont fournis)") from exc
    return parse_profile(text, str(name_or_path))


def parse_profile(text: str, where: str) -> Profile:
    try:
        body = json.loads(text)
        known = {f.name for f in fields(Profile)}
        values = {k: v for k, v in body.items() if k in known}
        values["sources"] = tuple(values.get("sources", ()))
        return Profile(**values)
    except (ValueError, TypeError, AttributeError) as exc:
        raise ProfileError(f"profil illisible ({where}) : {exc}") from exc


def bundled_names() -> list[str]:
    folder = resources.files(__package__).joinpath("profiles")
    return sorted(p.name.removesuffix(".json") for p in folder.iterdir() if p.name.endswith(".json"))
