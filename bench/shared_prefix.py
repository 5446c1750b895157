"""Shared-prefix scoring vs. the alternatives, with the embedded SmolLM2 on this CPU.

For K criteria of one response (response 300-600 tokens: BiGGen-Bench reference answers;
criteria 15-40 tokens: WritingBench criterion descriptions), per-criterion time of:
  (a) one full forward pass per criterion, batch 1
  (b) all K full prompts padded into one batch
  (c) shared prefix once + the K suffixes batched against its cache (what `local` does),
      in steady state: the judge-instruction cache warm from an earlier response, as in any
      run over a dataset; c0 is the same with that cache cold (the first response of a run)
  (d) what peer judges do: generate a ~60-token JSON verdict per criterion (greedy)
  bound: one prefix pass + one batch of all K suffixes, timed separately
All methods run interleaved in one process, median of --reps; ratios are what to read.
Peak memory is the largest rise in resident memory while a method runs, from a separate
pass after the timed ones (see return_freed_memory).

    python bench/shared_prefix.py [--reps 3] [--ks 5,10,20] [--model SPEC] [--only-ours]
    (--model: any local model spec, e.g. the measurement judge of bench/bench_model.py;
    --only-ours: c0, c and the bound only, for models where a, b and d take many minutes)
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import statistics
import threading
import time
from collections.abc import Callable
from pathlib import Path

import torch

import prompts
from judge.eval import datasets
from judge.backends.forward_passes import common_prefix_length
from judge.backends.forward_passes import InstructionCache
from judge.backends.local import LocalBackend

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"a/c": 5.0, "b/c": 2.0, "d/c": 20.0}
BOUND_TARGET = 1.3
GENERATED_TOKENS = 60
METHODS = ("a", "b", "c0", "c", "d", "bound")
GENERATION_SAMPLE = 2  # criteria timed for (d); it is slow and its per-criterion cost is flat


def rss_bytes() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def return_freed_memory() -> None:
    """Make glibc hand large freed blocks back to the system, so each method's peak shows in
    resident memory (by default freed tensors stay in the heap). It slows allocation, so it
    is switched on only for the memory pass, after the timed runs."""
    import ctypes

    m_mmap_threshold = -3
    ctypes.CDLL("libc.so.6").mallopt(m_mmap_threshold, 65536)


def measure(function: Callable[[], object]) -> tuple[float, float]:
    """Seconds and peak resident-memory rise (MiB) of one call."""
    baseline, peak, running = rss_bytes(), [0], [True]

    def sample() -> None:
        while running[0]:
            peak[0] = max(peak[0], rss_bytes())
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    function()
    elapsed = time.perf_counter() - start
    running[0] = False
    sampler.join()
    return elapsed, max(0, peak[0] - baseline) / 2**20


def load_inputs(tokenizer, count: int, max_k: int) -> tuple[list[tuple[str, str]], list[str]]:
    biggen = json.loads(datasets.locate("biggen_bench_rubrics/sample_responses.json").read_text())
    responses = []
    for record in biggen.values():
        n = len(tokenizer.encode(record["reference_answer"], add_special_tokens=False))
        if 300 <= n <= 600:
            responses.append((record["input"][:600], record["reference_answer"]))
    criteria = []
    with open(datasets.locate("writingbench_length_subset/length_subset.jsonl")) as handle:
        for line in handle:
            for item in json.loads(line)["checklist"]:
                n = len(tokenizer.encode(item["criteria_description"], add_special_tokens=False))
                if 15 <= n <= 40:
                    criteria.append(item["criteria_description"])
    return responses[:count], criteria[: max_k * 4]


def encode_questions(backend: LocalBackend, prompt: str, response: str, criteria: list[str]) -> list[list[int]]:
    return [
        backend.encode(
            prompts.render_messages("entailment", prompt=prompt, response=response, criterion=c, reference=None)
        )
        for c in criteria
    ]


def run_methods(
    backend: LocalBackend, sequences: list[list[int]], warmup: list[list[int]]
) -> dict[str, tuple[float, float]]:
    k = len(sequences)
    prefix_length = common_prefix_length(sequences)
    prefix_length = min(prefix_length, min(len(s) for s in sequences) - 1)
    model = backend.model
    results: dict[str, tuple[float, float]] = {}
    results["a"] = measure(lambda: [backend._forward([s]) for s in sequences])
    results["b"] = measure(lambda: backend._forward(sequences))
    backend.instructions = InstructionCache(backend.min_shared_prefix)
    results["c0"] = measure(lambda: backend._forward_shared(sequences, prefix_length))
    backend._forward_shared(warmup, min(common_prefix_length(warmup), min(len(s) for s in warmup) - 1))
    results["c"] = measure(lambda: backend._forward_shared(sequences, prefix_length))

    # the bound: a prefix pass, then one pass over all K suffixes in the backend's layout
    with torch.inference_mode():
        prefix = torch.tensor([sequences[0][:prefix_length]])
        prefix_time, _ = measure(lambda: model(input_ids=prefix, use_cache=True, logits_to_keep=1))
        cache = model(input_ids=prefix, use_cache=True, logits_to_keep=1)[backend._cache_argument]
    suffixes = [list(s[prefix_length:]) for s in sequences]
    suffix_pass = backend._packed_suffix_logits if backend.pack_suffixes else backend._batched_suffix_logits
    own_cache = copy.deepcopy(cache)

    def suffix_batch() -> None:
        with torch.inference_mode():
            suffix_pass(own_cache, prefix_length, suffixes)

    suffix_time, _ = measure(suffix_batch)
    results["bound"] = (prefix_time + suffix_time, 0.0)

    def generate() -> None:
        for sequence in sequences[:GENERATION_SAMPLE]:
            ids = torch.tensor([sequence])
            with torch.inference_mode():
                model.generate(
                    ids,
                    attention_mask=torch.ones_like(ids),
                    do_sample=False,
                    pad_token_id=backend.pad_id,
                    max_new_tokens=GENERATED_TOKENS,
                    min_new_tokens=GENERATED_TOKENS,
                )

    seconds, memory = measure(generate)
    results["d"] = (seconds * k / GENERATION_SAMPLE, memory)  # scaled to K criteria
    return results


def only_ours(backend: LocalBackend, ks: list[int], reps: int) -> None:
    """ms per criterion of the shared prefix, cold (c0) and warm (c), and the bound."""
    responses, criteria = load_inputs(backend.tokenizer, reps + 1, max(ks))
    warm_prompt, warm_response = responses.pop()
    print(f"model {backend.model_id}, {torch.get_num_threads()} threads, {backend.model.dtype}; median of {reps}")
    print(f"{'K':>3} {'prefix':>6} {'suffix':>6} {'c0 ms/crit':>11} {'c ms/crit':>10} {'bound ms/crit':>14}")
    for k in ks:
        times: dict[str, list[float]] = {"c0": [], "c": [], "bound": []}
        for rep in range(reps):
            prompt, response = responses[rep % len(responses)]
            chosen = criteria[rep * k % len(criteria) :][:k] or criteria[:k]
            sequences = encode_questions(backend, prompt, response, chosen)
            prefix_length = min(common_prefix_length(sequences), min(len(s) for s in sequences) - 1)
            backend.instructions = InstructionCache(backend.min_shared_prefix)
            times["c0"].append(measure(lambda: backend._forward_shared(sequences, prefix_length))[0])
            warmup = encode_questions(backend, warm_prompt, warm_response, chosen[:2])
            backend._forward_shared(warmup, min(common_prefix_length(warmup), min(len(s) for s in warmup) - 1))
            times["c"].append(measure(lambda: backend._forward_shared(sequences, prefix_length))[0])
            with torch.inference_mode():
                prefix = torch.tensor([sequences[0][:prefix_length]])
                start = time.perf_counter()
                cache = backend.model(input_ids=prefix, use_cache=True, logits_to_keep=1)[backend._cache_argument]
                suffix_pass = backend._packed_suffix_logits if backend.pack_suffixes else backend._batched_suffix_logits
                suffix_pass(cache, prefix_length, [list(s[prefix_length:]) for s in sequences])
                times["bound"].append(time.perf_counter() - start)
        prefix = common_prefix_length(sequences)
        suffix = statistics.mean(len(s) - prefix for s in sequences)
        per = {m: 1000 * statistics.median(v) / k for m, v in times.items()}
        print(f"{k:>3} {prefix:>6} {suffix:>6.0f} {per['c0']:>11.1f} {per['c']:>10.1f} {per['bound']:>14.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--ks", default="5,10,20")
    parser.add_argument("--model", help="a local model spec (default: the embedded SmolLM2)")
    parser.add_argument("--only-ours", action="store_true", help="time only c0, c and the bound")
    args = parser.parse_args()
    ks = [int(k) for k in args.ks.split(",")]
    if args.model:
        from judge.backends import get_backend

        backend = get_backend(args.model)
        if not isinstance(backend, LocalBackend):
            raise SystemExit(f"{args.model}: this bench times local models only")
    else:
        backend = LocalBackend.default()
    if args.only_ours:
        return only_ours(backend, ks, args.reps)
    responses, criteria = load_inputs(backend.tokenizer, args.reps + 1, max(ks))
    warm_prompt, warm_response = responses.pop()
    layout = "packed in one row" if backend.pack_suffixes else "batched against cache copies"
    print(
        f"model {backend.model_id}, {torch.get_num_threads()} threads, {backend.model.dtype}, suffixes {layout}; "
        f"batch budget {backend.max_batch_tokens} tokens; median of {args.reps}"
    )
    backend._forward([backend.encode([{"role": "user", "content": "warm up"}])])
    header = f"{'K':>3} {'prefix':>6} {'suffix':>6}  " + "  ".join(f"{m + ' ms/crit':>11}" for m in METHODS)
    header += "   a/c    b/c    d/c c0/bound  a/c0   peak MiB a/b/c/d"
    print(header)
    cases = {}
    for k in ks:
        cases[k] = []
        for rep in range(args.reps):
            prompt, response = responses[rep % len(responses)]
            chosen = criteria[rep * k % len(criteria) :][:k] or criteria[:k]
            sequences = encode_questions(backend, prompt, response, chosen)
            warmup = encode_questions(backend, warm_prompt, warm_response, chosen[:2])
            cases[k].append((sequences, warmup))
    timed = {k: [run_methods(backend, *case) for case in cases[k]] for k in ks}
    return_freed_memory()
    memory = {k: run_methods(backend, *cases[k][0]) for k in ks}
    for k in ks:
        runs, sequences = timed[k], cases[k][-1][0]
        prefix = common_prefix_length(sequences)
        suffix = statistics.mean(len(s) - prefix for s in sequences)
        median = {m: statistics.median(r[m][0] for r in runs) for m in runs[0]}
        peak = {m: memory[k][m][1] for m in runs[0]}
        per = {m: 1000 * median[m] / k for m in median}
        ratios = {"a/c": median["a"] / median["c"], "b/c": median["b"] / median["c"], "d/c": median["d"] / median["c"]}
        within = median["c0"] / median["bound"]  # the bound runs the whole prefix, as c0 does
        marks = "".join(
            f" {ratios[name]:5.1f}{'' if ratios[name] >= TARGETS[name] or k != 10 else '!'}" for name in ratios
        )
        print(
            f"{k:>3} {prefix:>6} {suffix:>6.0f}  "
            + "  ".join(f"{per[m]:>11.1f}" for m in METHODS)
            + f" {marks}  {within:6.2f}{'' if within <= BOUND_TARGET or k != 10 else '!'}"
            + f" {median['a'] / median['c0']:5.1f}"
            + f"   {peak['a']:.0f}/{peak['b']:.0f}/{peak['c']:.0f}/{peak['d']:.0f}"
        )
    print(
        f"targets at K=10: a/c >= {TARGETS['a/c']:g}, b/c >= {TARGETS['b/c']:g}, d/c >= {TARGETS['d/c']:g}, "
        f"c0/bound <= {BOUND_TARGET:g} ('!' marks a miss)"
    )


if __name__ == "__main__":
    main()
