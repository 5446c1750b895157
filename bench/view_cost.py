"""What the normalised view takes from genuine answers, without a model.

The engine judges a response's view too (judge/hardening/view.py) and keeps the reading
less favourable to the response, so every clause the view drops from a genuine answer is a chance to lose it. Printed
per set: the share of responses whose view differs (each costs one more question per
criterion), the share that lose a clause, the share of words dropped, and the clauses
dropped most often. The sets: the correct GSM8K model solutions (openai/grade-school-math),
LLMBar's responses with their instructions (both of each pair) and GPT-4's IFEval responses
with their prompts — open answers in Markdown, the view's hardest case.

    python bench/view_cost.py   # RUBRIC_JUDGE_DATA or --data-dir
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.eval import datasets  # noqa: E402
from judge.hardening.view import normalised_view  # noqa: E402


def gsm8k_closed(data_dir: str | None) -> list[tuple[str, str, str | None]]:
    """The correct GSM8K model solutions with their reference answer (a closed answer: the
    view keeps only the clauses anchored in the task)."""
    path = datasets.locate("gsm8k_model_solutions/example_model_solutions.jsonl", data_dir)
    rows = map(json.loads, path.open(encoding="utf-8"))
    return [
        (r["question"], v["solution"], r["ground_truth"].rsplit("A:", 1)[1].strip())
        for r in rows
        for v in r.values()
        if isinstance(v, dict) and v.get("is_correct")
    ]


def gsm8k(data_dir: str | None) -> list[tuple[str, str, str | None]]:
    """The same solutions without their reference (the view's open reading)."""
    return [(question, solution, None) for question, solution, _ in gsm8k_closed(data_dir)]


def llmbar(data_dir: str | None) -> list[tuple[str, str, str | None]]:
    pairs = []
    for path in sorted(datasets.locate("llmbar/LLMBar_Natural.json", data_dir).parent.glob("*.json")):
        for pair in json.loads(path.read_text(encoding="utf-8")):
            pairs += [(pair["input"], pair["output_1"], None), (pair["input"], pair["output_2"], None)]
    return pairs


def ifeval(data_dir: str | None) -> list[tuple[str, str, str | None]]:
    path = datasets.locate("ifeval/input_response_data_gpt4_20231107_145030.jsonl", data_dir)
    return [(r["prompt"], r["response"], None) for r in map(json.loads, path.open(encoding="utf-8"))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", help="folder holding the benchmark data (default: RUBRIC_JUDGE_DATA)")
    parser.add_argument("--show", type=int, default=8, help="most often dropped clauses to print per set")
    args = parser.parse_args(argv)
    print(f"{'set':28} {'responses':>9} {'view differs':>13} {'loses a clause':>15} {'words dropped':>14}")
    dropped_by_set = {}
    for name, load in (
        ("GSM8K correct solutions", gsm8k),
        ("  with the reference answer", gsm8k_closed),
        ("LLMBar responses", llmbar),
        ("IFEval GPT-4 responses", ifeval),
    ):
        pairs = load(args.data_dir)
        differs = loses = words = dropped_words = 0
        dropped: Counter[str] = Counter()
        for prompt, response, reference in pairs:
            view = normalised_view(response, prompt, reference)
            differs += view.changed
            loses += bool(view.dropped)
            words += len(response.split())
            dropped_words += sum(len(clause.split()) for clause in view.dropped)
            dropped.update(clause[:70] for clause in view.dropped)
        n = len(pairs)
        print(f"{name:28} {n:>9} {differs / n:>13.1%} {loses / n:>15.1%} {dropped_words / max(words, 1):>14.2%}")
        dropped_by_set[name] = dropped
    for name, dropped in dropped_by_set.items():
        print(f"\n{name}: clauses dropped most often")
        for clause, count in dropped.most_common(args.show):
            print(f"  {count:>5}  {clause!r}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
