"""A calibration of a judge's P(yes): maps fitted on labelled verdicts, applied after the cache.

A judge's P(yes) is a score, not a probability: a small model says Yes too often. A
``Calibration`` (written by `rubric calibrate`, judge/eval/calibrate.py) holds a global map
and per-criterion maps (where a criterion had enough labels of both classes), each Platt
(a logistic curve on the logit) or isotonic (a monotone step curve, interpolated), and the
threshold chosen on the calibrated scale. Applying one needs nothing but this module: the
maps are plain numbers. The engine applies it to model-judged criteria only (a criterion
decided in code is already 0 or 1) and records the raw P(yes) beside the calibrated one.
A calibration belongs to one judge model; using it with another is refused.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from rubrics.io import read_json, validated

EPS = 1e-6
# A generated check's id names its kind first (judge/generate/constraints.py::spec_id:
# ``check-existence-lantern``): the maps of one kind serve every rubric that has one.
_KIND = re.compile(r"check-([A-Za-z][A-Za-z0-9_]*)(?:-|$)")


def kind_of(criterion_id: str) -> str | None:
    """The kind of a generated check from its id (``existence``), or None."""
    found = _KIND.match(criterion_id)
    return found.group(1) if found else None


def flat(value: float, n: int = 0) -> Map:
    """A map that gives every P(yes) the same value: what a judge that cannot rank is worth."""
    q = min(1 - EPS, max(EPS, value))
    return Map(kind="platt", a=0.0, b=math.log(q / (1 - q)), n=n)


class Map(BaseModel):
    """One calibration curve from raw P(yes) to a calibrated probability."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["platt", "isotonic", "identity"]
    a: float = 1.0  # platt: sigmoid(a * logit(p) + b)
    b: float = 0.0
    x: list[float] = Field(default_factory=list)  # isotonic: increasing knots of raw P(yes) ...
    y: list[float] = Field(default_factory=list)  # ... and their calibrated values (non-decreasing)
    n: int = 0  # labels it was fitted on

    def __call__(self, p: float) -> float:
        if self.kind == "identity":
            return p
        if self.kind == "platt":
            q = min(1 - EPS, max(EPS, p))
            z = self.a * math.log(q / (1 - q)) + self.b
            return 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        if p <= self.x[0]:
            return self.y[0]
        if p >= self.x[-1]:
            return self.y[-1]
        right = bisect.bisect_right(self.x, p)
        x0, x1, y0, y1 = self.x[right - 1], self.x[right], self.y[right - 1], self.y[right]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)


class Calibration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str  # the judge it was fitted for: name:model_id
    request_shape: Literal["per_criterion", "generated", "batched"] = "per_criterion"  # how that judge was asked
    backend: dict[str, Any] = Field(default_factory=dict)  # that judge's identity, for the record
    global_map: Map
    criteria: dict[str, Map] = Field(default_factory=dict)  # per criterion id, where labels allowed
    kinds: dict[str, Map] = Field(default_factory=dict)  # per kind of generated check (kind_of), where labels allowed
    threshold: float = Field(0.5, ge=0.0, le=1.0)  # on the calibrated scale
    threshold_rule: str = "balanced accuracy"
    report: dict[str, Any] = Field(default_factory=dict)  # held-out figures, reliability bins, notes

    @property
    def id(self) -> str:
        """Changes with anything that changes calibrated values (recorded in every verdict)."""
        maps = {
            "global": self.global_map.model_dump(),
            "criteria": {k: m.model_dump() for k, m in sorted(self.criteria.items())},
            **({"kinds": {k: m.model_dump() for k, m in sorted(self.kinds.items())}} if self.kinds else {}),
        }
        digest = hashlib.sha256(
            json.dumps([self.model, self.request_shape, maps, self.threshold], sort_keys=True).encode()
        ).hexdigest()
        return f"cal-{digest[:12]}"

    @model_validator(mode="after")
    def _no_inverting_map(self) -> Calibration:
        """A Platt map whose slope is not positive would rank the judge's answers the wrong way
        round (or not at all): it is replaced by a flat one at its value for P(yes) 0.5, and named."""
        flattened = []
        for name, maps in (("criteria", self.criteria), ("kinds", self.kinds)):
            for key, found in list(maps.items()):
                if found.kind == "platt" and found.a < 0:
                    maps[key] = flat(found(0.5), found.n)
                    flattened.append(f"{name}:{key}")
        if flattened:
            self.report = {**self.report, "flattened": sorted({*self.report.get("flattened", []), *flattened})}
        return self

    def map_for(self, criterion_id: str) -> Map:
        """The criterion's own map, else its kind's (a generated check's family), else the global one."""
        if criterion_id in self.criteria:
            return self.criteria[criterion_id]
        kind = kind_of(criterion_id)
        return self.kinds.get(kind, self.global_map) if kind is not None else self.global_map

    def apply(self, criterion_id: str, p_yes: float) -> float:
        return min(1.0, max(0.0, self.map_for(criterion_id)(p_yes)))

    def check_judge(self, label: str, request_shape: str) -> None:
        """Refuse a judge this calibration was not fitted for (another model, or asked another way)."""
        if label != self.model:
            raise ValueError(
                f"calibration {self.id} was fitted for the judge {self.model}, not {label}; "
                "fit one for this judge with `rubric calibrate`"
            )
        if request_shape != self.request_shape:
            raise ValueError(
                f"calibration {self.id} was fitted on {self.request_shape} verdicts, not {request_shape} ones; "
                "fit one for this request shape with `rubric calibrate`"
            )

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=2) + "\n", encoding="utf-8")

    @classmethod
    def of(cls, value: str | Path | Calibration | None) -> Calibration | None:
        """A calibration from a file path, as given, or none: what every entry point accepts."""
        if value is None or isinstance(value, Calibration):
            return value
        return cls.load(value)

    @classmethod
    def load(cls, path: str | Path, data: Any = None) -> Calibration:
        """The calibration in ``path`` (or its already read ``data``); ValueError naming the file and the bad fields."""
        path = Path(path)
        return validated(
            cls, read_json(path) if data is None else data, path, "a calibration file from `rubric calibrate`"
        )
