"""A judge model's P(yes) on GSM8K answer criteria, raw and calibrated (held out).

Each sampled model solution of GSM8K (gsm8k_model_solutions: 4 solutions per question,
labelled ``is_correct`` by final-answer matching) becomes one judge item with one
criterion, "The final answer of the response is <reference>.", judged by the model (no
code check: the criterion has no ``check``). `rubric judge` writes the verdicts (resumably:
rerun the same command to go on after an interruption), then `rubric calibrate` fits on
them with ``is_correct`` as the labels and prints the held-out figures before and after.
Sampling is seeded and balanced between correct and incorrect solutions.

    python bench/judge_calibration.py --model SPEC [--limit 200] [--work DIR] [--seed 0]
    (the measurement judge: `make bench-model` prints its spec)
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.audit.suite import _final_answer  # noqa: E402
from judge.eval import datasets  # noqa: E402
from judge.paths import cache_root  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CRITERION = "answer"


def sample(limit: int, seed: int) -> list[dict]:
    """``limit`` solutions, half correct and half not (as far as the data allows), seeded."""
    path = datasets.locate("gsm8k_model_solutions/example_model_solutions.jsonl")
    solutions = {True: [], False: []}
    for number, line in enumerate(path.open(encoding="utf-8")):
        row = json.loads(line)
        reference = _final_answer(row["ground_truth"])
        for name, value in row.items():
            if isinstance(value, dict) and "solution" in value:
                solutions[bool(value["is_correct"])].append((f"q{number}:{name}", row["question"], value["solution"], reference))
    rng = random.Random(seed)
    chosen = []
    for correct in (True, False):
        pool = solutions[correct]
        rng.shuffle(pool)
        chosen += [(item, correct) for item in pool[: limit // 2]]
    rng.shuffle(chosen)
    return [{"id": item_id, "prompt": question, "response": solution,
             "rubric": {"id": "gsm8k-answer", "criteria": [{"id": CRITERION, "text": f"The final answer of the response is {reference}."}]},
             "labels": {CRITERION: correct}} for (item_id, question, solution, reference), correct in chosen]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="the judge (for example the spec `make bench-model` prints)")
    parser.add_argument("--limit", type=int, default=200, help="solutions, half correct and half not (default %(default)s)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--work", type=Path, default=cache_root() / "bench" / "judge_calibration", help="inputs, verdicts, calibration")
    args = parser.parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    rows = args.work / f"gsm8k-{args.limit}-{args.seed}.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in sample(args.limit, args.seed)), encoding="utf-8")
    verdicts, calibration = rows.with_suffix(".verdicts.jsonl"), rows.with_suffix(".calibration.json")
    rubric = [sys.executable, str(ROOT / "cli.py")]
    subprocess.run([*rubric, "judge", "--input", str(rows), "--output", str(verdicts), "--model", args.model], check=True)
    subprocess.run([*rubric, "calibrate", "--verdicts", str(verdicts), "--labels", str(rows), "--output", str(calibration),
                    "--seed", str(args.seed)], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
