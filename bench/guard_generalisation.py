"""Does the content-free guard generalise? Its false-positive rate on families and languages
it was not developed on, and what it costs genuine answers.

Content-free strings (judge/hardening/corpus/): dev.jsonl holds the families and languages
the rules were first developed on; heldout.jsonl was kept out of that round (written and
committed before the rules), then looked at, and so became development data for the second
round (more rules and the semantic reader); heldout2.jsonl was written and committed before
that round, measured, then looked at to diagnose the reader (development data from then
on); heldout3.jsonl was committed before the reader's threshold was fitted
(bench/guard_threshold.py) and is the clean measurement of the reader. A string that passes the guard reaches the judge:
with a judge that says Yes to everything, a false positive. Printed side by side for the
guard before the structural rules (the word-list guard of commit a708c74, read from git
when the history is there), the structural rules, and the rules with the semantic reader. False rejections: all 2,001 correct GSM8K model solutions, the short
genuine answers of short_answers.jsonl and every LLMBar response (with whether it was the
better one of its pair).

    python bench/guard_generalisation.py   # RUBRIC_JUDGE_DATA or --data-dir for GSM8K and LLMBar
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter, defaultdict
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.eval import datasets  # noqa: E402
from judge.hardening import content_free_reason, inspect  # noqa: E402

CORPUS = ROOT / "judge" / "hardening" / "corpus"
PREVIOUS = "a708c74"  # the last commit with the word-list guard


def previous_guard() -> Callable[[str], str | None] | None:
    """The word-list guard as it was, from git history; None outside a git checkout."""
    try:
        source = subprocess.run(
            ["git", "show", f"{PREVIOUS}:judge/hardening.py"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return None
    namespace: dict = {"__name__": "previous_guard"}
    exec(compile(source, f"{PREVIOUS}:judge/hardening.py", "exec"), namespace)  # noqa: S102 - our own file, from our history
    return namespace["content_free_reason"]


def read(name: str) -> list[dict]:
    return [json.loads(line) for line in (CORPUS / name).open(encoding="utf-8")]


def rate(passed: int, total: int) -> str:
    return f"{passed:>3}/{total:<3} {passed / total:>6.1%}" if total else "-"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, help="a folder holding the third-party data (default: $RUBRIC_JUDGE_DATA)"
    )
    args = parser.parse_args(argv)
    guards: dict[str, Callable[[str], str | None]] = {"structural": content_free_reason}
    if (old := previous_guard()) is not None:
        guards = {"word list": old, **guards}
    try:
        from judge.hardening.semantic import SemanticReader

        reader = SemanticReader()
        guards["+ semantic"] = lambda text: content_free_reason(text, reader)
    except ImportError as e:
        print(f"(no semantic column: {e})")
    names = list(guards)
    print("Content-free strings that pass the guard and reach the judge (false positives), by family and language")
    print(f"  {'set':10} {'family':18} {'lang':5} " + " ".join(f"{n:>16}" for n in names))
    sets = (
        ("dev", "dev.jsonl"),
        ("held-out 1", "heldout.jsonl"),
        ("held-out 2", "heldout2.jsonl"),
        ("held-out 3", "heldout3.jsonl"),
    )
    totals: dict[str, dict[str, Counter]] = {label: defaultdict(Counter) for label, _ in sets}
    fired: Counter = Counter()
    for label, file in sets:
        groups: dict[tuple[str, str], list[str]] = defaultdict(list)
        for row in read(file):
            groups[(row["family"], row["language"])].append(row["text"])
        for (family, language), texts in groups.items():
            cells = []
            for name, guard in guards.items():
                passed = sum(guard(t) is None for t in texts)
                totals[label][name].update(passed=passed, total=len(texts))
                cells.append(rate(passed, len(texts)))
            if label == "held-out 3" and "+ semantic" in guards:
                fired.update(inspect(t, reader).rule or "passed" for t in texts)
            print(f"  {label:10} {family:18} {language:5} " + " ".join(f"{c:>16}" for c in cells))
    for label, by_guard in totals.items():
        print(f"  {label + ', all':35}" + " ".join(f"{rate(c['passed'], c['total']):>16}" for c in by_guard.values()))
    print(f"  held-out 3, rules fired (+ semantic): {', '.join(f'{rule} {n}' for rule, n in fired.most_common())}")

    print("\nGenuine answers the guard rejects (false rejections)")
    short = [row["text"] for row in read("short_answers.jsonl")]
    solutions = datasets.locate("gsm8k_model_solutions/example_model_solutions.jsonl", args.data_dir)
    correct = [
        row[m]["solution"]
        for row in map(json.loads, solutions.open(encoding="utf-8"))
        for m in ("6b_finetuning", "6b_verification", "175b_finetuning", "175b_verification")
        if row[m]["is_correct"]
    ]
    responses: list[tuple[str, bool]] = []  # (text, is the better of its pair)
    for path in sorted(datasets.locate("llmbar/LLMBar_Natural.json", args.data_dir).parent.glob("*.json")):
        for pair in json.loads(path.read_text(encoding="utf-8")):
            responses += [(pair["output_1"], pair["label"] == 1), (pair["output_2"], pair["label"] == 2)]
    print(f"  {'answers':38} " + " ".join(f"{n:>16}" for n in names))
    for title, texts in (
        ("correct GSM8K solutions", correct),
        ("short genuine answers", short),
        ("LLMBar responses", [t for t, _ in responses]),
        ("LLMBar responses, the better of a pair", [t for t, b in responses if b]),
    ):
        print(
            f"  {title:38} "
            + " ".join(f"{rate(sum(g(t) is not None for t in texts), len(texts)):>16}" for g in guards.values())
        )
    strictest = list(guards.values())[-1]
    for text, better in responses:
        if (why := strictest(text)) is not None:
            print(
                f"    {names[-1]} rejects ({'the better' if better else 'the worse'} of its pair): {text.strip()[:60]!r} [{why.split(']')[0][14:]}]"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
