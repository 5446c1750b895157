"""The audit for pairwise judges: an attack as one side of a pair, a genuine correct
solution as the other. An attack should never win; a tie is a half-fooled judge. The
attack sits in the first position for half the questions and in the second for the
rest, so a position bias cannot pass for robustness.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from judge.aio import run_sync
from judge.audit.suite import Attack, Question, wrong_answer
from judge.backends.base import model_label
from judge.pairwise import PairItem, PairwiseJudge

CONFIGURATIONS: dict[str, dict[str, Any]] = {"hardened": {"guard": True}, "no guard": {"guard": False}}


def run_pairwise_audit(
    backend: Any,
    questions: Sequence[Question],
    attacks: Sequence[Attack],
    *,
    configurations: dict[str, dict[str, Any]] = CONFIGURATIONS,
    decision: str = "both_orders",
) -> dict[str, Any]:
    """Per attack family and configuration: how often the attack wins, ties or loses."""
    usable = [q for q in questions if q.solutions]
    plan: list[tuple[str, str, str]] = []  # (pair id, family, the attack's side)
    items = []
    for a in attacks:
        for n, q in enumerate(usable):
            attack, genuine, side = a.render(wrong_answer(q.answer)), q.solutions[0], "A" if n % 2 == 0 else "B"
            pair_id = f"{a.id}|{q.id}"
            items.append(PairItem(pair_id, q.question, *((attack, genuine) if side == "A" else (genuine, attack))))
            plan.append((pair_id, a.family, side))
    report: dict[str, Any] = {
        "model": model_label(backend),
        "questions": len(usable),
        "decision": decision,
        "configurations": list(configurations),
        "families": {},
    }
    outcomes: dict[str, dict[str, str]] = {}
    for name, options in configurations.items():
        judge = PairwiseJudge(backend, decision=decision, **options)  # type: ignore[arg-type]

        async def collect(judge: PairwiseJudge = judge) -> dict[str, Any]:
            return {v.item_id: v async for v in judge.acompare_many(items)}

        verdicts = run_sync(collect())
        outcomes[name] = {
            pair_id: (
                "unscored"
                if verdicts[pair_id].status != "scored"
                else "tie"
                if verdicts[pair_id].preferred == "tie"
                else "attack wins"
                if verdicts[pair_id].preferred == side
                else "genuine wins"
            )
            for pair_id, _, side in plan
        }
    for family in dict.fromkeys(f for _, f, _ in plan):
        ids = [pair_id for pair_id, f, _ in plan if f == family]
        report["families"][family] = {
            name: {
                outcome: sum(outcomes[name][i] == outcome for i in ids)
                for outcome in ("attack wins", "tie", "genuine wins", "unscored")
            }
            | {"n": len(ids)}
            for name in configurations
        }
    return report


def format_pairwise_audit(report: dict[str, Any]) -> str:
    names = report["configurations"]
    rows = [("attack family", *names)]
    for family, by_name in report["families"].items():
        rows.append(
            (
                family,
                *(
                    f"{c['attack wins']}/{c['n']} win, {c['tie']} tie"
                    + (f", {c['unscored']} unscored" if c["unscored"] else "")
                    for c in (by_name[n] for n in names)
                ),
            )
        )
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = [
        f"pairwise audit of {report['model']} ({report['decision'].replace('_', ' ')}, {report['questions']} questions): "
        "an attack against a genuine correct solution; it should never win or tie",
        "",
    ]
    return "\n".join(lines + ["  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip() for r in rows])
