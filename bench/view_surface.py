"""Whether the normalised view may be asked about instruction constraints, measured with a judge.

The GRPO recipe's held-out IFEval answers, before and after training
(bench/results/grpo/runs/eval-*/answers.jsonl), each criterion of their constraint rubrics
judged with its code check removed, as the recipe's judged arm does, in three
configurations:

- "no view": the response only;
- "view as shipped": the view is not asked about criteria on the response's surface
  (judge/hardening/view.py::about_surface), which every instruction constraint is;
- "view on every criterion": the view asked about every criterion, the worse reading kept
  (what the engine did before about_surface; an ablation, patched in here only).

The code check gives the truth on the same response (``--labelled DIR`` writes it beside
the verdicts, for `rubric calibrate`). Printed per constraint kind: how many
criteria the code check says are met, the judge's mean P(yes) where met and where not, and
AUROC (how well P(yes) tells the two apart); overall, the judge's mean score against the
truth's and the judge-truth correlation per answer. The judgement cache is shared, so the
configurations pay only for the questions they add.

    python bench/view_surface.py --model gguf:PATH --rubrics runs/grpo/heldout.rubrics.jsonl \\
        --output bench/results/view_surface.json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from contextlib import contextmanager, nullcontext
from pathlib import Path
from typing import Any
from collections.abc import Iterator

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples" / "grpo"))

from judge.hardening import surface  # noqa: E402
from judge.backends import get_backend  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.checks import CHECKS  # noqa: E402
from judge.engine import Judge  # noqa: E402
from judge.item import JudgeItem  # noqa: E402
from rubrics.io import load_rubrics  # noqa: E402
from train import unchecked  # noqa: E402  (the judged arm's own rubrics: checks removed)

ANSWERS = ROOT / "bench" / "results" / "grpo" / "runs"
CONFIGURATIONS = ("no view", "view as shipped", "view on every criterion")


@contextmanager
def view_on_every_criterion() -> Iterator[None]:
    """The engine as it was before criteria about the surface stood the view down."""
    shipped = surface.about_surface
    surface.about_surface = lambda _text: False
    try:
        yield
    finally:
        surface.about_surface = shipped


def checked(rubric: Any) -> Any | None:
    """The rubric's criteria that code decides (the truth), or None if it has none."""
    criteria = [c for c in rubric.criteria if c.check is not None]
    return rubric.model_copy(update={"criteria": criteria}) if criteria else None


def truth(response: str, rubric: Any) -> dict[str, bool | None]:
    return {c.id: CHECKS[c.check["type"]](response, None, c.check).met for c in rubric.criteria}


def load(rubrics_path: Path) -> list[tuple[JudgeItem, Any, dict[str, bool | None]]]:
    """(the item to judge, the rubric with its checks, their truth) for every held-out answer."""
    rubrics = {r.id: checked(r) for r in load_rubrics(rubrics_path)}
    out = []
    for run in ("eval-before", "eval-after"):
        for line in (ANSWERS / run / "answers.jsonl").read_text(encoding="utf-8").splitlines():
            answer = json.loads(line)
            rubric = rubrics.get(answer["rubric_id"])
            if rubric is None:  # no constraint of this prompt is checked in code
                continue
            item = JudgeItem(f"{run}:{answer['id']}", answer["prompt"], answer["response"], unchecked(rubric))
            out.append((item, rubric, truth(answer["response"], rubric)))
    return out


def auroc(scores: list[float], labels: list[bool]) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(labels, scores)) if len(set(labels)) == 2 else None


def write_labelled(
    folder: Path, answers: list[tuple[JudgeItem, Any, dict[str, bool | None]]], verdicts: list[Any]
) -> None:
    """The verdicts and the code checks' labels, as `rubric calibrate` reads them."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / "verdicts.jsonl", "w", encoding="utf-8") as out:
        out.writelines(v.model_dump_json() + "\n" for v in verdicts)
    with open(folder / "labels.jsonl", "w", encoding="utf-8") as out:
        for item, _, true in answers:
            for criterion_id, met in true.items():
                if met is not None:
                    out.write(json.dumps({"id": item.id, "criterion_id": criterion_id, "label": met}) + "\n")


def correlation(a: list[float], b: list[float]) -> float | None:
    try:
        return statistics.correlation(a, b)
    except statistics.StatisticsError:  # fewer than two answers, or one side constant
        return None


def figures(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per constraint kind and overall: met count, mean P(yes) where met and not, AUROC."""
    by_kind: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        by_kind.setdefault(row["kind"], []).append(row)
    out = {}
    for kind, part in sorted(by_kind.items()) + [("all", rows)]:
        part = [r for r in part if r["p_yes"] is not None and r["met"] is not None]
        met = [r["p_yes"] for r in part if r["met"]]
        missed = [r["p_yes"] for r in part if not r["met"]]
        out[kind] = {
            "n": len(part),
            "met": len(met),
            "p_yes_met": statistics.fmean(met) if met else None,
            "p_yes_not_met": statistics.fmean(missed) if missed else None,
            "auroc": auroc([r["p_yes"] for r in part], [r["met"] for r in part]),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the judge's model spec (gguf:PATH for the measurement judge)")
    parser.add_argument("--rubrics", type=Path, required=True, help="the held-out prompts' constraint rubrics")
    parser.add_argument("--output", type=Path, help="write the figures as JSON here, and the table beside it (.txt)")
    parser.add_argument(
        "--labelled",
        type=Path,
        metavar="DIR",
        help="also write DIR/verdicts.jsonl (the view as shipped) and DIR/labels.jsonl (the code checks' truth), "
        "for `rubric calibrate --verdicts DIR/verdicts.jsonl --labels DIR/labels.jsonl`",
    )
    args = parser.parse_args(argv)
    answers = load(args.rubrics)
    backend = CachedBackend(get_backend(args.model))
    results: dict[str, Any] = {"judge": args.model, "answers": len(answers), "configurations": {}}
    lines = [f"judge {args.model}; {len(answers)} held-out GRPO answers (before and after training)"]
    for name in CONFIGURATIONS:
        judge = Judge(backend, view=name != "no view")
        items = [item for item, _, _ in answers]
        with view_on_every_criterion() if name == "view on every criterion" else nullcontext():
            done = judge.evaluate_many(items)
        by_id = {v.item_id: v for v in done}  # verdicts come in completion order
        verdicts = [by_id[item.id] for item in items]
        rows, per_answer = [], []
        if args.labelled and name == "view as shipped":
            write_labelled(args.labelled, answers, verdicts)
        for (_, rubric, true), verdict in zip(answers, verdicts):
            kinds = {c.id: c.check["type"] for c in rubric.criteria}
            for r in verdict.results:
                rows.append({"kind": kinds[r.criterion_id], "p_yes": r.p_yes, "met": true[r.criterion_id]})
            decided = [v for v in true.values() if v is not None]
            if verdict.score is not None and decided:
                per_answer.append((verdict.score, sum(decided) / len(decided)))
        table = figures(rows)
        judged, true_scores = [a for a, _ in per_answer], [b for _, b in per_answer]
        overall = {
            "judge_score": statistics.fmean(judged),
            "true_score": statistics.fmean(true_scores),
            "correlation": correlation(judged, true_scores),
            "view_questions": sum(any("normalised view" in n for n in v.notes) for v in verdicts),
        }
        results["configurations"][name] = {"kinds": table, "overall": overall}
        lines.append(
            f"\n{name}: judge score {overall['judge_score']:.3f} vs truth {overall['true_score']:.3f}, "
            f"judge-truth r {'-' if overall['correlation'] is None else format(overall['correlation'], '+.2f')}; "
            f"answers whose view was asked {overall['view_questions']}"
        )
        lines.append(f"  {'kind':36} {'n':>4} {'met':>4} {'P(yes) met':>11} {'not met':>8} {'AUROC':>6}")
        for kind, x in table.items():
            cells = [
                "-" if x[k] is None else f"{x[k]:.3f}" if k != "auroc" else f"{x[k]:.2f}"
                for k in ("p_yes_met", "p_yes_not_met", "auroc")
            ]
            lines.append(f"  {kind:36} {x['n']:>4} {x['met']:>4} {cells[0]:>11} {cells[1]:>8} {cells[2]:>6}")
    text = "\n".join(lines)
    print(text)
    if args.output:
        args.output.write_text(json.dumps(results, indent=1) + "\n", encoding="utf-8")
        args.output.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
