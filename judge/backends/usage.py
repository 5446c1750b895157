"""What an API run spent: requests, retries, tokens, and an estimated cost."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

BATCH_DISCOUNT = 0.5  # both providers charge half the synchronous price in batch jobs


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens: synchronous, in provider batches (half, unless the
    price table says otherwise), and prompt-cache reads and writes (Anthropic: 0.1x, 1.25x)."""

    input: float
    output: float
    source: str
    batch_input: float | None = None
    batch_output: float | None = None
    cache_read: float | None = None
    cache_write: float | None = None

    def batch(self) -> tuple[float, float]:
        return (
            self.batch_input if self.batch_input is not None else self.input * BATCH_DISCOUNT,
            self.batch_output if self.batch_output is not None else self.output * BATCH_DISCOUNT,
        )


@dataclass
class Usage:
    requests: int = 0  # attempts sent, retries included
    retries: int = 0
    failed: int = 0  # calls given up on (after their retries)
    prompt_tokens: int = 0  # synchronous requests; Anthropic: not counting prompt-cache reads and writes
    completion_tokens: int = 0
    prices: Prices | None = None
    by_replica: dict[str, int] = field(default_factory=dict)
    batch_requests: int = 0  # sent in provider batch jobs
    batch_failed: int = 0  # of those, failed inside the job (then asked synchronously)
    batch_prompt_tokens: int = 0
    batch_completion_tokens: int = 0
    cache_read_tokens: int = 0  # prompt tokens read from the provider's prompt cache
    cache_write_tokens: int = 0  # prompt tokens written to it
    batch_cache_read_tokens: int = 0  # the same inside batch jobs (batch-discounted too)
    batch_cache_write_tokens: int = 0

    def add_tokens(self, prompt: int | None, completion: int | None) -> None:
        self.prompt_tokens += prompt or 0
        self.completion_tokens += completion or 0

    def add_batch_tokens(self, prompt: int | None, completion: int | None) -> None:
        self.batch_prompt_tokens += prompt or 0
        self.batch_completion_tokens += completion or 0

    def add_cache_tokens(self, read: int | None, written: int | None, *, batch: bool = False) -> None:
        if batch:
            self.batch_cache_read_tokens += read or 0
            self.batch_cache_write_tokens += written or 0
        else:
            self.cache_read_tokens += read or 0
            self.cache_write_tokens += written or 0

    @property
    def cost(self) -> float | None:
        p = self.prices
        if p is None:
            return None
        batch_in, batch_out = p.batch()
        cache_read = p.cache_read if p.cache_read is not None else p.input * 0.1
        cache_write = p.cache_write if p.cache_write is not None else p.input * 1.25
        return (
            self.prompt_tokens * p.input
            + self.completion_tokens * p.output
            + self.batch_prompt_tokens * batch_in
            + self.batch_completion_tokens * batch_out
            + self.cache_read_tokens * cache_read
            + self.cache_write_tokens * cache_write
            + (self.batch_cache_read_tokens * cache_read + self.batch_cache_write_tokens * cache_write) * BATCH_DISCOUNT
        ) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "failed": self.failed,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "batch": {
                "requests": self.batch_requests,
                "failed": self.batch_failed,
                "prompt_tokens": self.batch_prompt_tokens,
                "completion_tokens": self.batch_completion_tokens,
            },
            "prompt_cache": {
                "read_tokens": self.cache_read_tokens,
                "write_tokens": self.cache_write_tokens,
                "batch_read_tokens": self.batch_cache_read_tokens,
                "batch_write_tokens": self.batch_cache_write_tokens,
            },
            "estimated_cost_usd": None if self.cost is None else round(self.cost, 6),
            "prices": None
            if self.prices is None
            else {
                "input": self.prices.input,
                "output": self.prices.output,
                "source": self.prices.source,
                "batch": list(self.prices.batch()),
            },
            "by_replica": dict(self.by_replica),
        }

    def describe(self) -> str:
        cost = "cost unknown (pass price_in/price_out, USD per 1M tokens)"
        if self.cost is not None and self.prices is not None:
            cost = f"estimated cost ${self.cost:.4f} (prices: {self.prices.source}" + (
                "; batch at half price)" if self.batch_requests else ")"
            )
        parts = [
            f"{self.requests} requests ({self.retries} retries, {self.failed} failed), "
            f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens"
        ]
        if self.batch_requests:
            parts.append(
                f"in provider batches {self.batch_requests} requests ({self.batch_failed} failed there), "
                f"{self.batch_prompt_tokens} prompt + {self.batch_completion_tokens} completion tokens"
            )
        read, written = (
            self.cache_read_tokens + self.batch_cache_read_tokens,
            self.cache_write_tokens + self.batch_cache_write_tokens,
        )
        if read or written:
            parts.append(f"prompt cache {read} tokens read, {written} written")
        return "; ".join(parts) + f", {cost}"


@lru_cache(maxsize=1)
def _litellm_price_table() -> dict[str, Any]:
    """litellm's bundled price list, read as a file: importing litellm takes seconds and goes online."""
    spec = importlib.util.find_spec("litellm")
    if spec is None or spec.origin is None:
        return {}
    path = Path(spec.origin).parent / "model_prices_and_context_window_backup.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return {}


def find_prices(model: str, price_in: float | None = None, price_out: float | None = None) -> Prices | None:
    """Prices given by the user, else litellm's table (when installed), else None."""
    if price_in is not None or price_out is not None:
        return Prices(float(price_in or 0.0), float(price_out or 0.0), "given")
    table = _litellm_price_table()
    for name in (model, model.split("/", 1)[-1]):
        entry = table.get(name)
        if isinstance(entry, dict) and "input_cost_per_token" in entry:

            def per_million(key: str) -> float | None:
                value = entry.get(key)
                return None if value is None else value * 1e6

            return Prices(
                entry["input_cost_per_token"] * 1e6,
                entry.get("output_cost_per_token", 0.0) * 1e6,
                f"litellm table for {name}",
                batch_input=per_million("input_cost_per_token_batches"),
                batch_output=per_million("output_cost_per_token_batches"),
                cache_read=per_million("cache_read_input_token_cost"),
                cache_write=per_million("cache_creation_input_token_cost"),
            )
    return None
