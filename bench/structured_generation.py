"""Does a local model write usable rubrics? Free text parsed afterwards vs decoding under
the schema's grammar, side by side on the same model and pairs.

For each LLMBar pair (a seeded sample), the contrastive rubric generator drafts a rubric
from the prompt and both responses, ranked, as `rubric generate --method contrastive` does:
once with ``structured="parse"`` (free text, the first JSON object parsed; invalid output is
re-asked up to --reasks times) and once with ``structured="grammar"`` (the default: valid by
construction; only an empty rubric is re-asked). The two modes alternate which goes first.
Printed per mode: the share of pairs that got a schema-valid rubric with at least one
criterion, generation calls per pair, generated tokens per second (the prompt's prefill
included, the same for both), and the grammar's own cost: the time its masks took, per
token and as a share of the constrained generation time.

    python bench/structured_generation.py [--model SPEC] [--pairs 20] [--seed 0]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.backends import grammar  # noqa: E402
from judge.backends.base import GenerationError, model_label  # noqa: E402
from judge.backends.local import LocalBackend  # noqa: E402
from judge.eval.preference import benchmark_files  # noqa: E402
from judge.models import open_backend  # noqa: E402
from judge.generate.contrastive import ContrastiveGenerator, ContrastiveSettings  # noqa: E402
from rubrics.pairs import load_pairs  # noqa: E402

MODES = ("parse", "grammar")


class Meter:
    """Counts generation calls, generated tokens and their time, per mode."""

    def __init__(self, tokenizer) -> None:  # type: ignore[no-untyped-def]
        self.tokenizer = tokenizer
        self.calls = dict.fromkeys(MODES, 0)
        self.tokens = dict.fromkeys(MODES, 0)
        self.seconds = dict.fromkeys(MODES, 0.0)
        self.inner = grammar.generate_sync
        self.mask_seconds, self.masks = 0.0, 0
        masked = grammar.JsonMask.__call__

        def timed(mask, input_ids, scores):  # type: ignore[no-untyped-def]
            start = time.perf_counter()
            try:
                return masked(mask, input_ids, scores)
            finally:
                self.mask_seconds += time.perf_counter() - start
                self.masks += 1

        grammar.JsonMask.__call__ = timed  # type: ignore[method-assign]

    def __call__(self, backend, messages, max_tokens, temperature, schema=None):  # type: ignore[no-untyped-def]
        start = time.perf_counter()
        text = ""
        try:
            text = self.inner(backend, messages, max_tokens, temperature, schema)
            return text
        except GenerationError as e:
            text = e.text or ""
            raise
        finally:
            self.seconds[backend.structured] += time.perf_counter() - start
            self.calls[backend.structured] += 1
            self.tokens[backend.structured] += len(self.tokenizer.encode(text, add_special_tokens=False))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", help="a local model spec (default: the embedded SmolLM2)")
    parser.add_argument("--pairs", type=int, default=20)
    parser.add_argument("--reasks", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    constrained = open_backend(args.model, cache=False, on_default=lambda notice: print(notice, file=sys.stderr))
    if not isinstance(constrained, LocalBackend):
        raise SystemExit("this bench compares decoding modes of a local model; pass a local spec")
    free = LocalBackend(
        constrained.model,
        constrained.tokenizer,
        model_id=constrained.model_id,
        revision=constrained.revision,
        structured="parse",
    )
    backends = {"grammar": constrained, "parse": free}
    meter = Meter(constrained.tokenizer)
    grammar.generate_sync = meter  # measured where both modes pass through
    pairs = [p for path in benchmark_files("llmbar") for p in load_pairs(path)]
    pairs = random.Random(args.seed).sample(pairs, min(args.pairs, len(pairs)))
    settings = ContrastiveSettings(reasks=args.reasks)
    usable = dict.fromkeys(MODES, 0)
    failures: dict[str, list[str]] = {m: [] for m in MODES}
    for n, pair in enumerate(pairs):
        for mode in MODES if n % 2 == 0 else MODES[::-1]:
            generator = ContrastiveGenerator(backends[mode], settings=settings)
            try:
                rubric = asyncio.run(generator.draft(pair.id, pair.prompt, list(pair.responses), ranked=True))
                usable[mode] += bool(rubric.criteria)
            except GenerationError as e:
                failures[mode].append(str(e).splitlines()[0])
        print(
            f"  {n + 1}/{len(pairs)}: parse {usable['parse']}, grammar {usable['grammar']}", file=sys.stderr, flush=True
        )

    print(
        f"model: {model_label(constrained)}; {len(pairs)} LLMBar pairs (seed {args.seed}); contrastive draft, ranked, "
        f"max_tokens {settings.max_tokens}, re-asks {args.reasks}"
    )
    print(f"{'decoding':<28} {'valid rubric':>13} {'calls/pair':>11} {'tokens/s':>9}")
    rate = {m: meter.tokens[m] / meter.seconds[m] if meter.seconds[m] else float("nan") for m in MODES}
    for mode, name in (("parse", "free text, parsed"), ("grammar", "under the schema's grammar")):
        print(
            f"{name:<28} {usable[mode]:>5}/{len(pairs):<3} {usable[mode] / len(pairs):>4.0%} {meter.calls[mode] / len(pairs):>11.2f} "
            f"{rate[mode]:>9.1f}"
        )
    print(
        f"tokens/s, grammar / free: {rate['grammar'] / rate['parse']:.2f}; the grammar's masks: "
        f"{1000 * meter.mask_seconds / max(meter.masks, 1):.2f} ms per token, {meter.mask_seconds / max(meter.seconds['grammar'], 1e-9):.1%} "
        "of the constrained generation time"
    )
    for mode in MODES:
        for reason, count in sorted(
            {r: failures[mode].count(r) for r in failures[mode]}.items(), key=lambda kv: -kv[1]
        )[:3]:
            print(f"  {mode} failed {count}x: {reason[:140]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
