"""A judge model's P(yes) on labelled criteria, raw and calibrated (held out).

The items (bench/judge_data.py): GSM8K model solutions with the criterion "The final answer
of the response is <reference>." (labels: ``is_correct``), or IFEval responses with the
constraint extractor's specs in words (labels: the official strict results). The model
judges every criterion (none has a ``check``). `rubric judge` writes the verdicts
(resumably: rerun the same command to go on after an interruption), then `rubric
calibrate` fits on them and prints the held-out figures before and after.

    python bench/judge_calibration.py --model SPEC [--dataset gsm8k|ifeval] [--limit 200] [--work DIR] [--seed 0]
    (the measurement judge: `make bench-model` prints its spec)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import judge_data  # noqa: E402
from judge.paths import cache_root  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the judge (for example the spec `make bench-model` prints)")
    parser.add_argument("--dataset", choices=["gsm8k", "ifeval"], default="gsm8k")
    parser.add_argument(
        "--limit", type=int, default=200, help="GSM8K: solutions, half correct; IFEval: criteria (default %(default)s)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work", type=Path, default=cache_root() / "bench" / "judge_calibration", help="inputs, verdicts, calibration"
    )
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = args.work / f"{args.dataset}-{args.limit}-{args.seed}.jsonl"
    build = judge_data.gsm8k_rows if args.dataset == "gsm8k" else judge_data.ifeval_rows
    rows.write_text("".join(json.dumps(r) + "\n" for r in build(args.limit, args.seed)), encoding="utf-8")
    verdicts, calibration = rows.with_suffix(".verdicts.jsonl"), rows.with_suffix(".calibration.json")
    rubric = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run(
        [*rubric, "judge", "--input", str(rows), "--output", str(verdicts), "--model", args.model], check=True
    )
    subprocess.run(
        [
            *rubric,
            "calibrate",
            "--verdicts",
            str(verdicts),
            "--labels",
            str(rows),
            "--output",
            str(calibration),
            "--seed",
            str(args.seed),
        ],
        check=True,
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
