"""A jury against each of its judges on LLMBar pointwise pair accuracy, every aggregation
side by side, in one run.

    RUBRIC_JUDGE_DATA=../shared/data python bench/jury.py \
        --model local:default --model gguf:~/.cache/rubric-judge/models/qwen2.5-coder-1.5b-instruct-q4_k_m.gguf --limit 30

Each judge is asked every criterion once: the judgement cache serves the same questions
to every aggregation (and to earlier single-model runs of `rubric eval` with the same
settings), so the methods differ only in how they combine the same P(yes). The records of
each method go to --work (default .bench/jury, resumable); the table prints accuracy with its 95% interval, the
judge-tie rate, and for each judge alone the paired difference jury minus judge.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.eval.options import EvalSettings  # noqa: E402
from judge.eval.run import run_eval  # noqa: E402
from judge.jury import METHODS  # noqa: E402
from judge.models import open_backend  # noqa: E402


def cell(rate: object) -> str:
    if rate is None or rate.value is None:  # type: ignore[attr-defined]
        return "-"
    low, high = rate.ci95  # type: ignore[attr-defined]
    return f"{rate.value:.3f} [{low:.2f},{high:.2f}]"  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", action="append", required=True, help="a judge of the jury (two or more)")
    parser.add_argument("--benchmark", default="llmbar")
    parser.add_argument("--limit", type=int, default=30)
    parser.add_argument("--rubric", default="helpfulness")
    parser.add_argument(
        "--work", type=Path, default=Path(".bench/jury"), help="per-method results and records (resumable)"
    )
    args = parser.parse_args()
    if len(args.model) < 2:
        parser.error("name two or more --model")
    args.work.mkdir(parents=True, exist_ok=True)
    backends = [open_backend(spec, on_default=lambda _: None) for spec in args.model]
    rows, judges = [], None
    for method in METHODS:
        settings = EvalSettings(
            benchmarks=[args.benchmark],
            mode="pointwise",
            output=args.work / f"{method}.json",
            rubric=args.rubric,
            limit=args.limit,
            progress=False,
            jury=method,
        )
        overall = run_eval(settings, backends).results.benchmarks[args.benchmark].overall
        assert overall is not None and overall.judges is not None
        judges = judges or overall.judges
        rows.append(
            (
                f"jury {method}",
                overall.pairs,
                cell(overall.accuracy),
                overall.judge_ties.value,
                {name: a.jury_minus_judge for name, a in overall.judges.items()},
            )
        )
    assert judges is not None
    names = list(judges)
    print(
        f"{args.benchmark}, pointwise ({args.rubric} rubric; the higher score wins, a tie counts wrong), {rows[0][1]} pairs"
    )
    header = f"{'judge':<34} {'accuracy [95% CI]':>20} {'ties':>6}" + "".join(
        f"  {'minus ' + n.split('/')[-1][:26]:>40}" for n in names
    )
    print(header)
    print("-" * len(header))
    for name, alone in judges.items():
        print(f"{name.split('/')[-1][:34]:<34} {cell(alone.accuracy):>20} {alone.judge_ties.value:>6.1%}")
    for label, _, accuracy, ties, minus in rows:
        differences = "".join(
            f"  {f'{minus[n].value:+.3f} [{minus[n].ci95[0]:+.2f},{minus[n].ci95[1]:+.2f}]':>40}" for n in names
        )
        print(f"{label:<34} {accuracy:>20} {ties:>6.1%}{differences}")
    print(
        "minus X: the jury's accuracy minus judge X's on the same pairs (+1/0/-1 per pair), with its 95% bootstrap interval"
    )


if __name__ == "__main__":
    main()
