"""API backend throughput against a local OpenAI-compatible server with injected latency.

The server (tests/provider_server.py, in a process of its own) answers every request
after --latency seconds, as a remote model would; the client is the real openai SDK over
loopback HTTP. Printed:
  1. judged criteria per second at concurrency 1, 16 and 64, against the ideal
     concurrency / latency (what perfect overlap of requests would give);
  2. requests and tokens per response for the per-criterion and batched request shapes;
  3. a cached re-run against the first run: time ratio and requests made.
Ratios are what to read: absolute rates drift with the machine's load.

    python bench/api_throughput.py [--latency 0.2] [--criteria 8] [--rounds 25]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.backends import get_backend  # noqa: E402
from judge.cache import CachedBackend  # noqa: E402
from judge.engine import Judge, JudgeItem  # noqa: E402
from rubrics.model import Rubric  # noqa: E402

BATCH_SIZE = 32


def items(count: int, criteria: int, tag: str) -> list[JudgeItem]:
    rubric = Rubric.from_principles(
        [f"Criterion {j} ({tag}): the answer is accurate about point {j}" for j in range(criteria)], f"bench-{tag}"
    )
    return [
        JudgeItem(
            f"{tag}-{i}", "Explain how tides work.", f"Response {i}: tides come from the Moon's gravity. " * 8, rubric
        )
        for i in range(count)
    ]


def run(backend, work: list[JudgeItem], concurrency: int, shape: str = "per_criterion") -> float:
    judge = Judge(
        backend, batch_size=BATCH_SIZE, concurrency=math.ceil(concurrency / BATCH_SIZE) + 1, request_shape=shape
    )
    start = time.perf_counter()
    verdicts = judge.evaluate_many(work)
    elapsed = time.perf_counter() - start
    unscored = sum(v.n_unscored for v in verdicts)
    if unscored:
        raise SystemExit(f"{unscored} criteria unscored in a fault-free run")
    return elapsed


@contextlib.contextmanager
def provider(latency: float) -> Iterator[str]:
    """The scripted server in its own process, so that it shares no GIL with the client."""
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.provider_server", "--latency", str(latency)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        yield process.stdout.readline().strip()  # type: ignore[union-attr]
    finally:
        process.stdin.close()  # type: ignore[union-attr]
        process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds the server takes per request")
    parser.add_argument("--criteria", type=int, default=8, help="criteria per rubric")
    parser.add_argument("--rounds", type=int, default=25, help="requests per concurrent slot in the throughput runs")
    args = parser.parse_args()

    with provider(args.latency) as server_url:
        url = server_url + "/v1"
        print(
            f"server: local OpenAI-compatible, {args.latency * 1000:.0f} ms per request; client: openai SDK, backend openai/"
        )
        print("\n1. throughput (per-criterion shape, logprobs)")
        print(f"{'concurrency':>11} {'criteria':>8} {'seconds':>8} {'criteria/s':>10} {'ideal/s':>8} {'of ideal':>8}")
        for concurrency in (1, 16, 64):
            backend = get_backend("openai/bench", base_url=url, concurrency=concurrency)
            count = max(2, concurrency * args.rounds // args.criteria)  # about `rounds` requests per slot
            work = items(count, args.criteria, f"c{concurrency}")
            seconds = run(backend, work, concurrency)
            rate = count * args.criteria / seconds
            ideal = concurrency / args.latency
            print(
                f"{concurrency:>11} {count * args.criteria:>8} {seconds:>8.2f} {rate:>10.1f} {ideal:>8.1f} {rate / ideal:>8.1%}"
            )

        print("\n2. request shapes (20 responses)")
        print(f"{'shape':>13} {'requests/resp':>13} {'prompt tok/resp':>15} {'compl. tok/resp':>15} {'seconds':>8}")
        measured = {}
        for shape in ("per_criterion", "batched"):
            backend = get_backend("openai/bench", base_url=url, concurrency=16)
            work = items(20, args.criteria, f"shape-{shape}")
            seconds = run(backend, work, 16, shape)
            usage = backend.usage
            measured[shape] = usage
            print(
                f"{shape:>13} {usage.requests / 20:>13.1f} {usage.prompt_tokens / 20:>15.0f} {usage.completion_tokens / 20:>15.0f} {seconds:>8.2f}"
            )
        per, bat = measured["per_criterion"], measured["batched"]
        print(
            f"batched / per-criterion: requests {bat.requests / per.requests:.3f}, "
            f"prompt tokens {bat.prompt_tokens / per.prompt_tokens:.3f}, completion tokens {bat.completion_tokens / per.completion_tokens:.3f}"
        )

        print("\n3. cache (per-criterion shape, concurrency 16, 20 responses)")
        with tempfile.TemporaryDirectory() as cache_dir:
            work = items(20, args.criteria, "cache")
            first_backend = get_backend("openai/bench", base_url=url, concurrency=16)
            first = run(CachedBackend(first_backend, cache_dir), work, 16)
            again_backend = get_backend("openai/bench", base_url=url, concurrency=16)
            again = run(CachedBackend(again_backend, cache_dir), work, 16)
            print(
                f"first run {first:.3f} s, {first_backend.usage.requests} requests; "
                f"re-run {again:.4f} s, {again_backend.usage.requests} requests; first / re-run = {first / again:.0f}x"
            )


if __name__ == "__main__":
    main()
