"""How much the judges of a jury agree, from the verdict records a jury run wrote.

Each judge's decision on a criterion is its own P(yes) at the run's threshold. Per criterion
and overall: Krippendorff's alpha (nominal, judges as coders, items as units; a judge that
could not score an item is a missing value, which alpha allows and Fleiss' kappa does not),
the raw agreement (share of items on which every scoring judge decided alike) and the
disputed items. Alpha needs the ``krippendorff`` package (rubric-judge[calibrate]); without
it the raw figures are still given. The most disputed items are ranked by how many of their
criteria were disputed, then by the spread of the judges' scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

INSTALL_HINT = "pip install 'rubric-judge[calibrate]'"
MOST_DISPUTED = 5


@dataclass
class Units:
    """One row per (item, criterion): each judge's decision, None where it could not score."""

    rows: list[list[bool | None]] = field(default_factory=list)

    def add(self, decisions: list[bool | None]) -> None:
        self.rows.append(decisions)

    def figures(self) -> dict[str, Any]:
        rated = [[d for d in row if d is not None] for row in self.rows]
        pairable = [r for r in rated if len(r) >= 2]
        disputed = sum(len(set(r)) > 1 for r in pairable)
        return {
            "units": len(self.rows),
            "agreement": (len(pairable) - disputed) / len(pairable) if pairable else None,
            "disputed": disputed,
            "alpha": alpha(self.rows),
        }


def alpha(rows: list[list[bool | None]]) -> float | None:
    """Krippendorff's nominal alpha, or None when undefined (one value only, no pairable unit) or the package is missing."""
    values = {d for row in rows for d in row if d is not None}
    if len(values) < 2 or not any(sum(d is not None for d in row) >= 2 for row in rows):
        return None
    try:
        import krippendorff
    except ModuleNotFoundError:
        return None
    coders = [[float("nan") if row[k] is None else float(row[k]) for row in rows] for k in range(len(rows[0]))]
    return float(krippendorff.alpha(reliability_data=coders, level_of_measurement="nominal"))


def jury_agreement(verdicts: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Agreement figures of a jury run's verdict records; None if they hold no jury verdicts."""
    judges: list[str] = []
    overall = Units()
    by_criterion: dict[str, Units] = {}
    items: list[dict[str, Any]] = []
    for verdict in verdicts:
        scores = verdict.get("jury")
        if not scores:
            continue
        judges = judges or list(scores)
        threshold = verdict.get("threshold", 0.5)
        disputed = 0
        for result in verdict.get("results", []):
            panel = result.get("jury")
            if not panel:
                continue  # decided in code or skipped: no judge was asked
            decisions = [None if panel.get(j) is None else panel[j] >= threshold for j in judges]
            overall.add(decisions)
            by_criterion.setdefault(f"{verdict.get('rubric_id', '?')}/{result['criterion_id']}", Units()).add(decisions)
            disputed += bool(result.get("disputed"))
        known = [s for s in scores.values() if s is not None]
        spread = max(known) - min(known) if len(known) >= 2 else 0.0
        items.append({"item_id": verdict["item_id"], "disputed_criteria": disputed, "spread": spread, "scores": scores})
    if not judges:
        return None
    items.sort(key=lambda i: (-i["disputed_criteria"], -i["spread"]))
    figures = overall.figures()
    return {
        "judges": judges,
        "overall": figures,
        "criteria": {name: units.figures() for name, units in by_criterion.items()},
        "most_disputed": [i for i in items if i["disputed_criteria"] or i["spread"] > 0][:MOST_DISPUTED],
    }


def _has_krippendorff() -> bool:
    try:
        import krippendorff  # noqa: F401
    except ModuleNotFoundError:
        return False
    return True


def format_agreement(agreement: dict[str, Any]) -> str:
    """The human table: overall, per criterion, and the most disputed items."""

    def number(value: float | None, digits: str = ".3f") -> str:
        return "n/a" if value is None else format(value, digits)

    o = agreement["overall"]
    lines = [
        f"jury of {len(agreement['judges'])}: {', '.join(agreement['judges'])}",
        f"agreement: alpha {number(o['alpha'])} (Krippendorff, nominal), all judges alike on {number(o['agreement'], '.1%')} "
        f"of {o['units']} criterion judgements, {o['disputed']} disputed",
    ]
    if not _has_krippendorff():
        lines.append(f"(alpha needs the krippendorff package: {INSTALL_HINT})")
    rows = [("criterion", "alpha", "alike", "disputed", "judged")]
    for name, f in agreement["criteria"].items():
        rows.append((name, number(f["alpha"]), number(f["agreement"], ".0%"), str(f["disputed"]), str(f["units"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += [""] + ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows]
    if agreement["most_disputed"]:
        lines += ["", "most disputed items (criteria disputed; each judge's score):"]
        for item in agreement["most_disputed"]:
            scores = ", ".join(f"{judge} {number(score)}" for judge, score in item["scores"].items())
            lines.append(f"  {item['item_id']}: {item['disputed_criteria']} disputed; {scores}")
    return "\n".join(lines)
