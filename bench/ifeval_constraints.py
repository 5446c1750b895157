"""IFEval: our constraint checkers and extractor against the official labels.

(a) checker agreement: our checkers on the official GPT-4 responses with the official
    instruction ids and kwargs, compared per instruction with the official strict results;
    every disagreement is listed.
(b) extraction: instruction ids and kwargs recovered from the prompt text alone, precision
    and recall per family. Both sides are put in one canonical form first: "at most 150" is
    "less than 151", "more than 800" is "at least 801", "exactly N" is the pair (at least N,
    less than N+1), "the word X at least once" is "include X", "the word X less than once" is "do not use X", and a keyword list is one item per keyword.
(c) prompt-level strict accuracy of the GPT-4 responses under our extracted constraints,
    next to the official 0.7685 and to our checkers on the official constraints.

    python bench/ifeval_constraints.py [--data DIR] [--show 3]   (default: the registered IFEval files)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.eval import datasets  # noqa: E402
from judge.checks.constraints import check_constraint  # noqa: E402
from judge.generate.constraint_extraction import extract  # noqa: E402

OFFICIAL_PROMPT_ACCURACY = 0.7685
NUMBERED = {  # type -> (relation parameter, number parameter, relation when none is given)
    "length_constraints:number_words": ("relation", "num_words", None),
    "length_constraints:number_sentences": ("relation", "num_sentences", None),
    "keywords:frequency": ("relation", "frequency", None),
    "keywords:letter_frequency": ("let_relation", "let_frequency", None),
    "change_case:capital_word_frequency": ("capital_relation", "capital_frequency", None),
    "length_constraints:number_paragraphs": ("relation", "num_paragraphs", "exactly"),
    "detectable_format:number_bullet_lists": ("relation", "num_bullets", "exactly"),
    "detectable_format:number_highlighted_sections": ("relation", "num_highlights", "at least"),
    "detectable_content:number_placeholders": ("relation", "num_placeholders", "at least"),
}


def norm(text: Any) -> str:
    return " ".join(str(text).lower().split()).strip("\"'“”.: ")


def canonical(kind: str, params: dict[str, Any]) -> list[str]:
    """Keys that two equivalent constraints share."""
    params = {k: v for k, v in params.items() if v is not None and k != "type"}
    if kind == "keywords:frequency" and params.get("relation") == "at least" and params.get("frequency") == 1:
        return canonical("keywords:existence", {"keywords": [params["keyword"]]})
    if kind == "keywords:frequency" and params.get("relation") == "less than" and params.get("frequency") == 1:
        return canonical("keywords:forbidden_words", {"forbidden_words": [params["keyword"]]})
    if kind in ("keywords:existence", "keywords:forbidden_words"):
        words = params.get("keywords") or params.get("forbidden_words") or []
        return [f"{kind}|{norm(w)}" for w in words]
    if kind in NUMBERED:
        relation_key, number_key, fixed = NUMBERED[kind]
        relation, n = params.pop(relation_key, fixed), params.pop(number_key, None)
        rest = "|".join(f"{k}={norm(v)}" for k, v in sorted(params.items()) if k != "separator")
        if fixed:  # families with one natural relation compare the number only
            return [f"{kind}|{n}|{rest}"] if relation == fixed else [f"{kind}|{relation}|{n}|{rest}"]
        bounds = {
            "at most": [("less than", n + 1)],
            "more than": [("at least", n + 1)],
            "exactly": [("at least", n), ("less than", n + 1)],
        }
        return [f"{kind}|{r}|{k}|{rest}" for r, k in bounds.get(relation, [(relation, n)])]
    if kind == "detectable_content:postscript":
        return [f"{kind}|{params.get('postscript_marker', '').upper().rstrip('.')}"]
    return [f"{kind}|" + "|".join(f"{k}={norm(v) if k != 'section_spliter' else v}" for k, v in sorted(params.items()))]


def family(key: str) -> str:
    return key.split("|")[0]


def load(data: Path) -> tuple[list[dict[str, Any]], dict[str, dict[str, Any]]]:
    rows = [json.loads(line) for line in (data / "input_data.jsonl").open(encoding="utf-8")]
    results = {}
    for line in (data / "eval_results_strict.jsonl").open(encoding="utf-8"):
        record = json.loads(line)
        results[record["prompt"]] = record
    return rows, results


def official_specs(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": kind, **{k: v for k, v in kwargs.items() if v is not None}}
        for kind, kwargs in zip(row["instruction_id_list"], row["kwargs"])
    ]


def checker_agreement(rows: list[dict[str, Any]], results: dict[str, dict[str, Any]], show: int) -> tuple[float, float]:
    total, disagree = Counter(), Counter()
    examples: dict[str, list[str]] = defaultdict(list)
    prompt_pass = []
    for row in rows:
        result = results.get(row["prompt"])
        if result is None:
            continue
        outcomes = []
        for spec, official in zip(official_specs(row), result["follow_instruction_list"]):
            outcome = check_constraint(result["response"], None, spec)
            outcomes.append(outcome.met is True)
            total[spec["type"]] += 1
            if outcome.met != official:
                disagree[spec["type"]] += 1
                examples[spec["type"]].append(
                    f"key {row['key']}: official {official}, ours {outcome.met} ({outcome.reason})"
                )
        prompt_pass.append(all(outcomes))
    n, d = sum(total.values()), sum(disagree.values())
    print(f"(a) checker agreement with the official strict labels: {n - d}/{n} = {(n - d) / n:.4f} (target >= 0.99)")
    for kind, count in disagree.most_common():
        print(f"    {kind}: {count} of {total[kind]} differ")
        for example in examples[kind][:show]:
            print(f"      {example}")
    return (n - d) / n, sum(prompt_pass) / len(prompt_pass)


def extraction_quality(rows: list[dict[str, Any]], show: int) -> dict[str, list[dict[str, Any]]]:
    hits, predicted, gold = Counter(), Counter(), Counter()
    misses: dict[str, list[str]] = defaultdict(list)
    extras: dict[str, list[str]] = defaultdict(list)
    extracted: dict[str, list[dict[str, Any]]] = {}
    unparsed = 0
    for row in rows:
        found = extract(row["prompt"])
        extracted[row["prompt"]] = found.specs
        unparsed += len(found.unparsed)
        want = Counter(k for spec in official_specs(row) for k in canonical(spec["type"], dict(spec)))
        got = Counter(k for spec in found.specs for k in canonical(spec["type"], dict(spec)))
        both = want & got
        for key, count in want.items():
            gold[family(key)] += count
            hits[family(key)] += both[key]
            if both[key] < count:
                misses[family(key)].append(f"key {row['key']}: wanted {key[:90]!r}")
        for key, count in got.items():
            predicted[family(key)] += count
            if both[key] < count:
                extras[family(key)].append(f"key {row['key']}: extra {key[:90]!r}")
    print("\n(b) extraction from the prompt text (canonical id + kwargs must match)")
    print(f"    {'family':48} {'gold':>5} {'pred':>5} {'P':>6} {'R':>6}")
    for kind in sorted(set(gold) | set(predicted)):
        p = hits[kind] / predicted[kind] if predicted[kind] else float("nan")
        r = hits[kind] / gold[kind] if gold[kind] else float("nan")
        print(f"    {kind:48} {gold[kind]:5} {predicted[kind]:5} {p:6.3f} {r:6.3f}")
    h, g, pr = sum(hits.values()), sum(gold.values()), sum(predicted.values())
    print(
        f"    micro: precision {h / pr:.4f} ({h}/{pr}), recall {h / g:.4f} ({h}/{g})  (target: recall >= 0.90 at precision >= 0.95)"
    )
    print(f"    constraint-like sentences left unparsed (for the model): {unparsed}")
    if show:
        for kind in sorted(set(misses) | set(extras)):
            for line in misses[kind][:show] + extras[kind][:show]:
                print(f"      {line}")
    return extracted


def prompt_accuracy(
    rows: list[dict[str, Any]],
    results: dict[str, dict[str, Any]],
    extracted: dict[str, list[dict[str, Any]]],
    ours_official: float,
) -> None:
    passed = judged = empty = 0
    for row in rows:
        result = results.get(row["prompt"])
        if result is None:
            continue
        specs = extracted[row["prompt"]]
        empty += not specs
        judged += 1
        passed += all(check_constraint(result["response"], None, spec).met is True for spec in specs)
    print("\n(c) prompt-level strict accuracy of the GPT-4 responses")
    print(f"    official checker, official constraints: {OFFICIAL_PROMPT_ACCURACY:.4f}")
    print(f"    our checkers, official constraints:     {ours_official:.4f}")
    print(
        f"    our checkers, extracted constraints:    {passed / judged:.4f} ({passed}/{judged}; {empty} prompts with nothing extracted pass vacuously)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        help="a folder with input_data.jsonl, eval_results_strict.jsonl and the GPT-4 responses (default: the registered copy)",
    )
    parser.add_argument(
        "--show", type=int, default=3, help="examples listed per disagreement class or extraction error"
    )
    args = parser.parse_args(argv)
    if args.data is None:
        for name in ("input_data.jsonl", "eval_results_strict.jsonl", "input_response_data_gpt4_20231107_145030.jsonl"):
            args.data = datasets.locate(f"ifeval/{name}").parent
    rows, results = load(args.data)
    print(f"IFEval: {len(rows)} prompts, {len(results)} official strict results ({args.data})\n")
    _, ours_official = checker_agreement(rows, results, args.show)
    extracted = extraction_quality(rows, args.show)
    prompt_accuracy(rows, results, extracted, ours_official)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
