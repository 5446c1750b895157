"""How much the judges of a jury agree, from the verdict records a jury run wrote, one
record at a time (memory bounded by the criteria, not the rows).

Each judge's decision on a criterion is its own P(yes) at the run's threshold. Per criterion
and overall: Krippendorff's alpha (nominal, judges as coders, items as units; a judge that
could not score an item is a missing value, which alpha allows and Fleiss' kappa does not),
the raw agreement (share of items on which every scoring judge decided alike) and the
disputed items. With two values (met or not) alpha needs only, per unit, how many judges
said yes and how many no, so units are counted by that pair and alpha follows from the
coincidences: 1 - (n - 1) * sum_u(yes_u * no_u / (m_u - 1)) / (n_yes * n_no) (the tests
check it against the ``krippendorff`` package). The most disputed items are ranked by how
many of their criteria were disputed, then by the spread of the judges' scores.
"""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from typing import Any

MOST_DISPUTED = 5


class Units:
    """(item, criterion) units counted by (judges that said yes, judges that said no)."""

    def __init__(self) -> None:
        self.counts: Counter[tuple[int, int]] = Counter()

    def add(self, decisions: list[bool | None]) -> None:
        yes = sum(d is True for d in decisions)
        self.counts[(yes, sum(d is False for d in decisions))] += 1

    def figures(self) -> dict[str, Any]:
        pairable = {(y, n): c for (y, n), c in self.counts.items() if y + n >= 2}
        units = sum(pairable.values())
        disputed = sum(c for (y, n), c in pairable.items() if y and n)
        return {
            "units": sum(self.counts.values()),
            "agreement": (units - disputed) / units if units else None,
            "disputed": disputed,
            "alpha": alpha(pairable),
        }


def alpha(counts: dict[tuple[int, int], int]) -> float | None:
    """Krippendorff's nominal alpha of binary decisions from units counted by (yes, no);
    None when undefined (no pairable unit, or one value only)."""
    pairable = {(y, n): c for (y, n), c in counts.items() if y + n >= 2}
    n_yes = sum(y * c for (y, _), c in pairable.items())
    n_no = sum(n * c for (_, n), c in pairable.items())
    if not n_yes or not n_no:
        return None
    total = n_yes + n_no
    observed = sum(c * y * n / (y + n - 1) for (y, n), c in pairable.items())
    return 1.0 - (total - 1) * observed / (n_yes * n_no)


class JuryAgreement:
    """The agreement figures, fed one verdict record at a time."""

    def __init__(self) -> None:
        self.judges: list[str] = []
        self.overall = Units()
        self.by_criterion: dict[str, Units] = {}
        self._disputed: list[tuple[int, float, int, dict[str, Any]]] = []  # a min-heap of the most disputed items
        self._order = 0

    def add(self, verdict: dict[str, Any]) -> None:
        scores = verdict.get("jury")
        if not scores:
            return
        self.judges = self.judges or list(scores)
        threshold = verdict.get("threshold", 0.5)
        disputed = 0
        for result in verdict.get("results", []):
            panel = result.get("jury")
            if not panel:
                continue  # decided in code or skipped: no judge was asked
            decisions = [None if panel.get(j) is None else panel[j] >= threshold for j in self.judges]
            self.overall.add(decisions)
            self.by_criterion.setdefault(f"{verdict.get('rubric_id', '?')}/{result['criterion_id']}", Units()).add(
                decisions
            )
            disputed += bool(result.get("disputed"))
        known = [s for s in scores.values() if s is not None]
        spread = max(known) - min(known) if len(known) >= 2 else 0.0
        if disputed or spread > 0:
            self._order -= 1  # earlier items first among equals
            entry = (
                disputed,
                spread,
                self._order,
                {"item_id": verdict["item_id"], "disputed_criteria": disputed, "spread": spread, "scores": scores},
            )
            (heapq.heappush if len(self._disputed) < MOST_DISPUTED else heapq.heappushpop)(self._disputed, entry)

    def figures(self) -> dict[str, Any] | None:
        if not self.judges:
            return None
        return {
            "judges": self.judges,
            "overall": self.overall.figures(),
            "criteria": {name: units.figures() for name, units in self.by_criterion.items()},
            "most_disputed": [entry[-1] for entry in sorted(self._disputed, reverse=True)],
        }


def jury_agreement(verdicts: Iterable[dict[str, Any]]) -> dict[str, Any] | None:
    """Agreement figures of a jury run's verdict records; None if they hold no jury verdicts."""
    agreement = JuryAgreement()
    for verdict in verdicts:
        agreement.add(verdict)
    return agreement.figures()


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
    rows = [("criterion", "alpha", "alike", "disputed", "judged")]
    for name, f in agreement["criteria"].items():
        rows.append((name, number(f["alpha"]), number(f["agreement"], ".0%"), str(f["disputed"]), str(f["units"])))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines += [""] + [
        "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) for r in rows
    ]
    if agreement["most_disputed"]:
        lines += ["", "most disputed items (criteria disputed; each judge's score):"]
        for item in agreement["most_disputed"]:
            scores = ", ".join(f"{judge} {number(score)}" for judge, score in item["scores"].items())
            lines.append(f"  {item['item_id']}: {item['disputed_criteria']} disputed; {scores}")
    return "\n".join(lines)
