"""Does a generated rubric help a judge pick the better response? LLMBar and PandaLM.

A seeded split of preference pairs: a small training split (default 70 pairs, the size
Auto-Rubric reports as enough) and held-out pairs. Every held-out pair is judged pairwise,
in both orders (a verdict that flips with the order is a tie and counts as wrong), under
four conditions:
  1. no rubric: plain pairwise judging;
  2. a generic rubric from rubric_library/ (helpfulness) in context;
  3. CRG: a contrastive rubric written for that pair from its prompt and both responses,
     without the label (at test time the ranking is unknown);
  4. Auto-Rubric: the Theme-Tips rubric built from the training split, the same for all.
Printed: the model, the split sizes, and per condition accuracy with a 95% Wilson
interval, tie rate and generation failures. Any backend works (--model as for `rubric
judge`); with the embedded 135M model the accuracies are near chance, as expected.

    python bench/rubric_generation.py [--model SPEC] [--train 70] [--test 100] [--data llmbar|pandalm|both]
"""

from __future__ import annotations

import argparse
import asyncio
import math
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import rubric_library  # noqa: E402
from judge.backends.base import model_label  # noqa: E402
from judge.backends.base import GenerationError  # noqa: E402
from judge.models import open_backend  # noqa: E402
from judge.eval.preference import benchmark_files  # noqa: E402
from judge.pairwise import PairItem, PairwiseJudge  # noqa: E402
from judge.generate.auto_rubric import AutoRubricGenerator, AutoSettings, sentence_embedder  # noqa: E402
from judge.generate.contrastive import ContrastiveGenerator, ContrastiveSettings  # noqa: E402
from rubrics.pairs import PreferencePair, load_pairs  # noqa: E402

SOURCES = ("llmbar", "pandalm")  # registered benchmarks: a local copy ($RUBRIC_JUDGE_DATA) or a checked download


def wilson(correct: int, n: int, z: float = 1.96) -> tuple[float, float]:
    if n == 0:
        return (math.nan, math.nan)
    p = correct / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def split(
    pairs: list[PreferencePair], train: int, test: int, seed: int
) -> tuple[list[PreferencePair], list[PreferencePair]]:
    shuffled = pairs[:]
    random.Random(seed).shuffle(shuffled)
    return shuffled[:train], shuffled[train : train + test]


async def judge_all(judge: PairwiseJudge, test: list[PreferencePair], criteria_for) -> dict[str, int]:
    """Chosen shown as A half the time (seeded by position), so a judge that favours a
    position cannot score above chance; both orders are asked anyway."""
    items, truth = [], {}
    for index, pair in enumerate(test):
        a, b = (pair.chosen, pair.rejected) if index % 2 == 0 else (pair.rejected, pair.chosen)
        truth[pair.id] = "A" if index % 2 == 0 else "B"
        items.append(PairItem(pair.id, pair.prompt, a, b, tuple(await criteria_for(pair, a, b))))
    counts = {"correct": 0, "ties": 0, "unscored": 0, "n": len(items)}
    async for verdict in judge.acompare_many(items):
        counts["correct"] += verdict.preferred == truth[verdict.item_id]
        counts["ties"] += verdict.preferred == "tie"
        counts["unscored"] += verdict.status == "unscored"
    return counts


def report(name: str, counts: dict[str, int], extra: str = "") -> None:
    n = counts["n"]
    low, high = wilson(counts["correct"], n)
    print(
        f"  {name:<28} {counts['correct'] / n:>6.3f}  [{low:.3f}, {high:.3f}]  ties {counts['ties'] / n:>5.1%}  unscored {counts['unscored']}  {extra}",
        flush=True,
    )


async def run(dataset: str, args: argparse.Namespace, backend) -> None:
    pairs = [p for path in benchmark_files(dataset) for p in load_pairs(path)]
    train, test = split(pairs, args.train, args.test, args.seed)
    print(
        f"\n== {dataset}: {len(pairs)} pairs; training split {len(train)}, held out {len(test)} (seed {args.seed})",
        flush=True,
    )
    judge = PairwiseJudge(backend)
    started = time.perf_counter()

    async def none(pair, a, b):
        return []

    helpfulness = [c.text for c in rubric_library.load("helpfulness").criteria]

    async def generic(pair, a, b):
        return helpfulness

    crg = ContrastiveGenerator(backend, judge, ContrastiveSettings(reasks=args.reasks))
    failures = {"crg": 0}

    async def contrastive(pair, a, b):
        try:
            rubric = await crg.draft(pair.id, pair.prompt, [a, b], ranked=False)
        except GenerationError:
            failures["crg"] += 1
            return []  # no rubric: judged plainly, and counted
        return [c.text for c in rubric.criteria]

    auto = AutoRubricGenerator(backend, judge, AutoSettings(max_rounds=args.rounds, reasks=args.reasks))
    outcomes = await asyncio.gather(*(auto(pair) for pair in train))
    kept = [o.rubric for o in outcomes if o.status == "kept" and o.rubric is not None]
    statuses = {s: sum(o.status == s for o in outcomes) for s in ("kept", "rejected", "failed")}
    general_criteria: list[str] = []
    if kept:
        general = await auto.generalise(kept, sentence_embedder())
        general_criteria = [c.text for c in general.criteria]
        about_auto = f"{len(general.criteria)} tips in {len(general.themes)} themes from {len(kept)} kept pair rubrics ({statuses})"
    else:
        about_auto = f"no pair rubric was kept ({statuses}): judged without criteria"

    async def theme_tips(pair, a, b):
        return general_criteria

    print(f"  {'condition':<28} {'acc':>6}  95% interval", flush=True)
    report("no rubric", await judge_all(judge, test, none))
    report("library: helpfulness", await judge_all(judge, test, generic))
    counts = await judge_all(judge, test, contrastive)
    report("CRG, per pair (no label)", counts, f"generation failed for {failures['crg']}")
    report("Auto-Rubric Theme-Tips", await judge_all(judge, test, theme_tips), about_auto)
    print(f"  ({time.perf_counter() - started:.0f} s)", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="model spec as for `rubric judge` (default: the embedded SmolLM2)")
    parser.add_argument("--data", choices=["llmbar", "pandalm", "both"], default="both")
    parser.add_argument("--train", type=int, default=70)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3, help="Auto-Rubric propose-evaluate-revise rounds")
    parser.add_argument(
        "--reasks", type=int, default=2, help="re-asks after invalid generated output (0 saves time with weak models)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-cache", action="store_true")
    args = parser.parse_args()
    backend = open_backend(
        args.model, cache=not args.no_cache, on_default=lambda notice: print(notice, file=sys.stderr)
    )
    print(f"model: {model_label(backend)}")
    for dataset in ["llmbar", "pandalm"] if args.data == "both" else [args.data]:
        asyncio.run(run(dataset, args, backend))
    return 0


if __name__ == "__main__":
    sys.exit(main())
