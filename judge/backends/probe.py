"""A probe: P(yes) read from a frozen local model's hidden state instead of its next token.

Logistic regression on the hidden state at the answer position (the last prompt token, where
the model would write Yes or No) of one layer: ``P(yes) = sigmoid(w . h + b)``. Unlike a
calibration map, which bends P(yes) monotonically, a probe can change the ranking, and it is
fitted in seconds (judge/train/probe_fit.py). The file is small JSON (a weight per hidden
unit) that names the base model it was fitted on; the local backend applies it when a spec
says ``?probe=FILE`` and refuses it on a model of another width.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

FORMAT = "rubric-judge-probe"
VERSION = 1


class ProbeError(ValueError):
    pass


@dataclass(frozen=True)
class Probe:
    layer: int  # index into the model's hidden states: 0 the embeddings, -1 the last (after its norm)
    weights: tuple[float, ...]
    bias: float
    base: dict[str, Any] = field(default_factory=dict)  # the model it was fitted on (identity, spec)
    training: dict[str, Any] = field(default_factory=dict)  # rows, seed, held-out figures: a record only

    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """[rows, 2] logits whose softmax is (P(yes), P(no)), from hidden states [rows, width]."""
        weights = torch.tensor(self.weights, dtype=torch.float32, device=hidden.device)
        if hidden.shape[-1] != weights.shape[0]:
            raise ProbeError(
                f"the probe was fitted on hidden states of width {weights.shape[0]}, this model's are "
                f"{hidden.shape[-1]}: fit it on this model (rubric train-judge --method probe)"
            )
        yes = hidden.float() @ weights + self.bias
        return torch.stack([yes, torch.zeros_like(yes)], dim=-1)

    def digest(self) -> str:
        """Names the probe in a backend's identity (and so in the judgement cache's keys)."""
        text = json.dumps([self.layer, self.weights, self.bias])
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": VERSION,
            "layer": self.layer,
            "bias": self.bias,
            "weights": list(self.weights),
            "base": self.base,
            "training": self.training,
        }

    def save(self, path: str | Path) -> None:
        Path(path).write_text(json.dumps(self.to_json()) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> Probe:
        path = Path(path).expanduser()
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as e:
            raise ProbeError(f"{path}: cannot read the probe: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ProbeError(f'{path}: not a probe file (no "format": "{FORMAT}")')
        if data.get("version") != VERSION:
            raise ProbeError(f"{path}: probe format version {data.get('version')!r}; this release reads {VERSION}")
        try:
            weights = tuple(float(w) for w in data["weights"])
            return cls(
                int(data["layer"]), weights, float(data["bias"]), data.get("base") or {}, data.get("training") or {}
            )
        except (KeyError, TypeError, ValueError) as e:
            raise ProbeError(f"{path}: field {e} is missing or not a number") from None
