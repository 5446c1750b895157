"""How well the code check of final answers agrees with GSM8K's labels, and how it
treats Master-RM negatives (solutions cut to their first sentence).

For the 5,276 model solutions of ../shared/data/gsm8k_model_solutions: agreement of
judge/checks/reference.reference_answer with `is_correct`, with the confusion counts; then the
false-positive rate of the check and of the content-free guard on the first-sentence
truncations (all of which should fail). No model is involved.

    python bench/verify_gsm8k.py [--limit N]
"""

from __future__ import annotations

import argparse
import json
import time

from judge.eval import datasets
from judge.audit.suite import _final_answer
from judge.audit.augment import first_sentence
from judge.hardening import content_free_reason
from judge.checks.reference import reference_answer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, help="questions to use (default: all 1,319)")
    args = parser.parse_args()
    rows = [json.loads(line) for line in datasets.locate("gsm8k_model_solutions/example_model_solutions.jsonl").open()][
        : args.limit
    ]
    counts = {"tp": 0, "tn": 0, "fp": 0, "fn": 0}
    truncated_met = truncated_guarded = truncated_total = 0
    disagreements = []
    start = time.perf_counter()
    for row in rows:
        reference = _final_answer(row["ground_truth"])
        for name, value in row.items():
            if not isinstance(value, dict):
                continue
            met = bool(reference_answer(value["solution"], reference, {}).met)
            counts[("t" if met == value["is_correct"] else "f") + ("p" if met else "n")] += 1
            if met != value["is_correct"] and len(disagreements) < 3:
                disagreements.append((name, value["solution"][-80:], reference, value["is_correct"]))
            cut = first_sentence(value["solution"])
            if cut and cut != value["solution"].strip():
                truncated_total += 1
                truncated_met += bool(reference_answer(cut, reference, {}).met)
                truncated_guarded += content_free_reason(cut) is not None
    elapsed = time.perf_counter() - start
    total = sum(counts.values())
    print(
        f"GSM8K model solutions: {total} (labels: {counts['tp'] + counts['fn']} correct, {counts['tn'] + counts['fp']} incorrect)"
    )
    print(
        f"agreement of the code check with is_correct: {(counts['tp'] + counts['tn']) / total:.4f} "
        f"(tp {counts['tp']}, tn {counts['tn']}, fp {counts['fp']}, fn {counts['fn']})"
    )
    print(
        f"first-sentence negatives: {truncated_total}; code check says met: {truncated_met} "
        f"({100 * truncated_met / truncated_total:.2f}%); guard rejects {truncated_guarded} "
        f"({100 * truncated_guarded / truncated_total:.2f}%)"
    )
    print(f"{1000 * elapsed / (total + truncated_total):.1f} ms per check")
    for name, tail, reference, label in disagreements:
        print(f"  disagreement ({name}, label {label}, reference {reference}): ...{tail!r}")


if __name__ == "__main__":
    main()
