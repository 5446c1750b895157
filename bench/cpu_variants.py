"""CPU-side variants of a local judge, side by side: float32 against dynamic int8 linear layers.

Same model, same questions, one process: K criteria of each of --reps responses (the inputs
of shared_prefix.py) through the backend's shared-prefix path, timed per criterion (median
over responses, after one warm-up response), and the largest and mean |P(yes) difference|
of the int8 model against float32 on every question asked. The issue's rule: a variant is
worth using only if it is faster and keeps P(yes) within 0.02 of float32.

    python bench/cpu_variants.py --model SPEC [--k 10] [--reps 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from judge.backends import get_backend  # noqa: E402
from judge.backends.base import YesNoQuestion  # noqa: E402
from judge.backends.forward_passes import InstructionCache  # noqa: E402
from judge.backends.local import LocalBackend  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from shared_prefix import load_inputs  # noqa: E402

import prompts  # noqa: E402


def questions(prompt: str, response: str, criteria: list[str], group: str) -> list[YesNoQuestion]:
    return [
        YesNoQuestion(
            tuple(prompts.render_messages("entailment", prompt=prompt, response=response, reference=None, criterion=c)),
            group=group,
        )
        for c in criteria
    ]


def run(backend: LocalBackend, cases: list[list[YesNoQuestion]]) -> tuple[float, list[float]]:
    """Median seconds per criterion over the cases (the first one warms up), and every P(yes)."""
    backend.p_yes_sync(cases[0])
    per_criterion, values = [], []
    for case in cases[1:]:
        start = time.perf_counter()
        scores = backend.p_yes_sync(case)
        per_criterion.append((time.perf_counter() - start) / len(case))
        values += [s.p_yes for s in scores]
    return statistics.median(per_criterion), values


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a local model spec")
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--reps", type=int, default=3)
    args = parser.parse_args(argv)
    backend = get_backend(args.model)
    if not isinstance(backend, LocalBackend):
        raise SystemExit(f"{args.model}: this bench times local models only")
    responses, criteria = load_inputs(backend.tokenizer, args.reps + 1, args.k)
    cases = [
        questions(p, r, criteria[i * args.k % len(criteria) :][: args.k] or criteria[: args.k], f"r{i}")
        for i, (p, r) in enumerate(responses)
    ]
    base_time, base = run(backend, cases)
    backend.model = torch.ao.quantization.quantize_dynamic(backend.model, {torch.nn.Linear}, dtype=torch.qint8)
    backend.instructions = InstructionCache(backend.min_shared_prefix)  # its cached prefixes came from float32
    int8_time, int8 = run(backend, cases)
    diffs = [abs(a - b) for a, b in zip(base, int8)]
    print(f"model {backend.model_id}, {torch.get_num_threads()} threads, K={args.k}, {len(base)} questions timed")
    print(f"{'variant':28} {'s/criterion':>12} {'speed-up':>9} {'max |dP|':>9} {'mean |dP|':>10}")
    print(f"{'float32':28} {base_time:>12.3f} {1.0:>9.2f} {'-':>9} {'-':>10}")
    print(
        f"{'dynamic int8 (nn.Linear)':28} {int8_time:>12.3f} {base_time / int8_time:>9.2f} {max(diffs):>9.3f} {statistics.mean(diffs):>10.3f}"
    )
    verdict = "use it" if int8_time < base_time and max(diffs) <= 0.02 else "keep float32"
    print(f"rule: faster and max |dP| <= 0.02 -> {verdict}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
