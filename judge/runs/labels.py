"""Labels for a judge's verdicts: read from label lines or input rows, matched to verdicts.

Labels: ``{"id", "criterion_id", "label"}`` lines (label: true/false, 1/0, yes/no, met/not
met), or labels inside the judged input rows (``"labels": {criterion_id: label}``). Each
labelled, model-judged criterion of a verdict is one example (raw P(yes), label); criteria
decided in code are left out (they are 0 or 1), and what cannot be matched is counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rubrics.records import LoadReport, Skip, read_records

TRUE, FALSE = {"true", "1", "yes", "met", "satisfied"}, {"false", "0", "no", "not met", "not_met", "not_satisfied"}


@dataclass(frozen=True)
class Example:
    item_id: str
    criterion_id: str
    p_yes: float  # the judge's raw P(yes)
    label: bool


@dataclass
class Matched:
    """Labelled verdicts, and what could not be matched (counted and listed)."""

    examples: list[Example] = field(default_factory=list)
    model: str | None = None
    request_shape: str = "per_criterion"
    backend: dict[str, Any] = field(default_factory=dict)
    unmatched: Counter[str] = field(default_factory=Counter)  # why -> count
    examples_of_unmatched: dict[str, list[str]] = field(default_factory=dict)  # why -> first few keys

    def miss(self, why: str, key: str) -> None:
        self.unmatched[why] += 1
        listed = self.examples_of_unmatched.setdefault(why, [])
        if len(listed) < 5:
            listed.append(key)


def as_label(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE | FALSE:
        return text in TRUE
    raise Skip(f"a label must be true/false, 1/0, yes/no or met/not met, not {value!r}")


def read_labels(path: str | Path, report: LoadReport | None = None) -> dict[tuple[str, str], bool]:
    """(item id, criterion id) -> label, from label lines or from input rows with ``labels``."""
    labels: dict[tuple[str, str], bool] = {}

    def rows(record: Any, default_id: str) -> list[tuple[tuple[str, str], bool]]:
        if not isinstance(record, dict):
            raise Skip("not a JSON object")
        item = str(record.get("id", default_id))
        if isinstance(record.get("labels"), dict):
            return [((item, str(c)), as_label(v)) for c, v in record["labels"].items()]
        if "criterion_id" in record and "label" in record:
            return [((item, str(record["criterion_id"])), as_label(record["label"]))]
        raise Skip("no label: expected {id, criterion_id, label} or an input row with labels")

    path, report = Path(path), report if report is not None else LoadReport()
    for number, record in read_records(path):
        report.read += 1
        try:
            if isinstance(record, Skip):
                raise record
            found = rows(record, f"line-{number}")
        except Skip as e:
            report.skip(str(e), str(path), number)
            continue
        for key, label in found:
            if key in labels:
                report.skip("a second label for the same item and criterion", str(path), number)
                continue
            labels[key] = label
    return labels


def match(verdicts: Iterable[dict[str, Any]], labels: dict[tuple[str, str], bool]) -> Matched:
    """Labelled examples from verdict lines; one judge model only (else ValueError)."""
    matched, seen = Matched(), set()
    models, shapes = set(), set()
    for verdict in verdicts:
        models.add(verdict.get("model"))
        shapes.add(verdict.get("request_shape") or "per_criterion")
        matched.backend = (verdict.get("run") or {}).get("backend") or matched.backend
        item = str(verdict.get("item_id"))
        for result in verdict.get("results", []):
            key = (item, str(result.get("criterion_id")))
            seen.add(key)
            if key not in labels:
                continue
            if result.get("status") != "scored":
                matched.miss("the criterion was not scored", f"{item}/{key[1]}")
            elif (result.get("reason") or "").startswith(("checked in code", "decided without the judge")):
                matched.miss("decided in code, not by the judge", f"{item}/{key[1]}")
            else:
                raw = result.get("p_yes_raw") if result.get("p_yes_raw") is not None else result["p_yes"]
                matched.examples.append(Example(item, key[1], float(raw), labels[key]))
    if len(models) > 1:
        raise ValueError(
            f"the verdicts come from several judges ({', '.join(sorted(map(str, models)))}); calibrate one at a time"
        )
    if len(shapes) > 1:
        raise ValueError(f"the verdicts mix request shapes ({', '.join(sorted(shapes))}); calibrate one at a time")
    matched.model, matched.request_shape = next(iter(models), None), next(iter(shapes), "per_criterion")
    for key in labels.keys() - seen:
        matched.miss("no verdict has this item and criterion", f"{key[0]}/{key[1]}")
    return matched
