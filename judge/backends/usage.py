"""What an API run spent: requests, retries, tokens, and an estimated cost."""

from __future__ import annotations

import importlib.util
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Prices:
    """US dollars per million tokens."""

    input: float
    output: float
    source: str


@dataclass
class Usage:
    requests: int = 0  # attempts sent, retries included
    retries: int = 0
    failed: int = 0  # calls given up on (after their retries)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    prices: Prices | None = None
    by_replica: dict[str, int] = field(default_factory=dict)

    def add_tokens(self, prompt: int | None, completion: int | None) -> None:
        self.prompt_tokens += prompt or 0
        self.completion_tokens += completion or 0

    @property
    def cost(self) -> float | None:
        if self.prices is None:
            return None
        return (self.prompt_tokens * self.prices.input + self.completion_tokens * self.prices.output) / 1e6

    def as_dict(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "retries": self.retries,
            "failed": self.failed,
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "estimated_cost_usd": None if self.cost is None else round(self.cost, 6),
            "prices": None if self.prices is None else {"input": self.prices.input, "output": self.prices.output, "source": self.prices.source},
            "by_replica": dict(self.by_replica),
        }

    def describe(self) -> str:
        cost = "cost unknown (pass price_in/price_out, USD per 1M tokens)"
        if self.cost is not None and self.prices is not None:
            cost = f"estimated cost ${self.cost:.4f} (prices: {self.prices.source})"
        return (
            f"{self.requests} requests ({self.retries} retries, {self.failed} failed), "
            f"{self.prompt_tokens} prompt + {self.completion_tokens} completion tokens, {cost}"
        )


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
            return Prices(entry["input_cost_per_token"] * 1e6, entry.get("output_cost_per_token", 0.0) * 1e6, f"litellm table for {name}")
    return None
