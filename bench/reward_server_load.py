"""Load on the reward server (`rubric serve`) over loopback, micro-batching on and off.

The server runs in its own process; 1, 16 and 64 concurrent clients (asyncio, aiohttp)
each send requests one after another until the request budget or the time limit of a
configuration is spent. Printed per configuration: requests per second, p50 and p99
latency, engine calls, mean items per call, and the ratio of micro-batching on to off.
Every request carries a unique response and id; every answer is checked against the reward
computed in this process for that same response, so a request lost, answered twice or
answered with another request's reward is counted (and makes the run fail).

Backends
- fake (default): ``fake:random`` with a fixed cost per backend call (``--delay``, 20 ms)
  and ``--slots`` calls in flight: a stand-in for a model server whose batch of 32 rows
  costs about what one row does (a GPU forward pass, an API with bounded concurrency).
- local: the embedded SmolLM2-135M on this CPU, where a batch costs more than one row.

    python bench/reward_server_load.py [--backend fake|local|both] [--requests 640] [--duration 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import math
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from judge.rl.scorer import RewardRequest, build_scorer  # noqa: E402

PROMPT = "Explain in two sentences why the sky is blue."
RUBRIC = ["The answer names Rayleigh scattering.", "The answer is at most two sentences."]


def response_text(client: int, number: int) -> str:
    return f"Client {client}, answer {number}: sunlight scatters off air molecules, blue light most."


@contextlib.contextmanager
def serve_process(*flags: str) -> Iterator[tuple[str, int]]:
    """`rubric serve FLAGS` (from this checkout) in a process of its own: (url, pid)."""
    command = [sys.executable, str(ROOT / "cli.py"), "serve", "--no-cache", "--port", "0", *flags]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        line = ""
        while "listening on" not in line:
            line = process.stderr.readline()
            if not line and process.poll() is not None:
                raise SystemExit(f"the server did not start: {process.stderr.read()}")
        yield re.search(r"http://[\d.]+:\d+", line).group(0), process.pid  # type: ignore[union-attr]
    finally:
        process.terminate()
        process.wait(60)


@contextlib.contextmanager
def server(model: str | None, max_batch: int, slots: int, max_wait_ms: float) -> Iterator[str]:
    """The server of a load row (model None: the embedded default model)."""
    flags = [
        "--max-batch",
        str(max_batch),
        "--slots",
        str(slots),
        "--max-wait-ms",
        str(max_wait_ms),
        "--batch-size",
        "256",
    ]
    with serve_process(*flags, *(["--model", model] if model else [])) as (url, _):
        yield url


async def load(url: str, clients: int, budget: int, duration: float) -> dict:
    import aiohttp

    latencies: list[float] = []
    answers: dict[str, float | None] = {}
    duplicates = failures = 0
    sent = 0
    deadline = time.perf_counter() + duration

    async def client(number: int, session: aiohttp.ClientSession) -> None:
        nonlocal sent, duplicates, failures
        count = 0
        while sent < budget and time.perf_counter() < deadline:
            sent += 1
            request_id = f"{number}-{count}"
            body = {"id": request_id, "prompt": PROMPT, "response": response_text(number, count), "rubric": RUBRIC}
            start = time.perf_counter()
            try:
                async with session.post(url + "/score", json=body) as answer:
                    payload = await answer.json()
                    ok = answer.status == 200
            except (aiohttp.ClientError, asyncio.TimeoutError):
                ok = False
            latencies.append(time.perf_counter() - start)
            if not ok:
                failures += 1
            elif payload["id"] in answers:
                duplicates += 1
            else:
                answers[payload["id"]] = payload["reward"]
            count += 1

    start = time.perf_counter()
    timeout = aiohttp.ClientTimeout(total=300)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), timeout=timeout) as session:
        await asyncio.gather(*(client(i, session) for i in range(clients)))
        async with session.get(url + "/metrics") as answer:
            metrics = await answer.json()
    elapsed = time.perf_counter() - start
    latencies.sort()
    return {
        "sent": sent,
        "answers": answers,
        "duplicates": duplicates,
        "failures": failures,
        "elapsed": elapsed,
        "rps": len(answers) / elapsed,
        "p50": latencies[math.ceil(0.5 * len(latencies)) - 1],
        "p99": latencies[math.ceil(0.99 * len(latencies)) - 1],
        "engine_calls": metrics["engine_calls"],
        "mean_batch": metrics["mean_batch_items"],
    }


def check(result: dict, expected_for: dict[str, float | None]) -> int:
    """Wrong answers: a reward that is not the one computed here for that request's response."""
    wrong = 0
    for request_id, reward in result["answers"].items():
        want = expected_for[request_id]
        if (want is None) != (reward is None) or (want is not None and abs(want - reward) > 1e-9):
            wrong += 1
    return wrong


def expected_rewards(model: str, results: list[dict]) -> dict[str, float | None]:
    """The rewards for every answered request, computed in this process with the same model."""
    ids = sorted({rid for r in results for rid in r["answers"]})
    scorer = build_scorer(model.split("?")[0], rubric=RUBRIC, judge_options={"batch_size": 256})  # no delay
    requests = [RewardRequest(PROMPT, response_text(*map(int, rid.split("-")))) for rid in ids]
    return {rid: reward.value for rid, reward in zip(ids, scorer.score(requests))}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--backend", choices=["fake", "local", "both"], default="both")
    parser.add_argument("--clients", default="1,16,64")
    parser.add_argument("--requests", type=int, default=640, help="request budget per configuration (fake)")
    parser.add_argument("--local-requests", type=int, default=128, help="request budget per configuration (local)")
    parser.add_argument("--duration", type=float, default=20.0, help="time limit per configuration, seconds")
    parser.add_argument("--delay", type=float, default=0.02, help="fake backend: seconds per backend call")
    parser.add_argument("--slots", type=int, default=4, help="engine calls in flight")
    parser.add_argument("--max-batch", type=int, default=64)
    parser.add_argument("--max-wait-ms", type=float, default=5.0)
    args = parser.parse_args()
    clients = [int(c) for c in args.clients.split(",")]
    backends = ["fake", "local"] if args.backend == "both" else [args.backend]
    failed = False
    for backend in backends:
        if backend == "fake":
            model, budget = f"fake:random:3?delay={args.delay}", args.requests
            about = f"fake:random, {args.delay * 1000:g} ms per backend call"
        else:
            model, budget = None, args.local_requests
            about = "the embedded SmolLM2-135M-Instruct on this CPU"
        print(
            f"\n== {about}; {args.slots} engine calls in flight; at most {budget} requests or {args.duration:g} s per row",
            flush=True,
        )
        print(
            f"{'clients':>7} {'batching':>9} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} {'calls':>6} {'items/call':>10} {'lost':>5} {'dup':>4}"
        )
        rows = []
        for count in clients:
            pair = {}
            for batching, max_batch in (("off", 1), ("on", args.max_batch)):
                with server(model, max_batch, args.slots, args.max_wait_ms) as url:
                    result = asyncio.run(load(url, count, budget, args.duration))
                result["lost"] = result["sent"] - len(result["answers"]) - result["duplicates"]
                pair[batching] = result
                rows.append(result)
                print(
                    f"{count:>7} {batching:>9} {result['rps']:>8.1f} {result['p50'] * 1000:>8.1f} {result['p99'] * 1000:>8.1f} "
                    f"{result['engine_calls']:>6} {result['mean_batch'] or 0:>10.1f} {result['lost']:>5} {result['duplicates']:>4}",
                    flush=True,
                )
            print(
                f"{'':>7} {'on/off':>9} {pair['on']['rps'] / pair['off']['rps']:>7.2f}x throughput at {count} clients",
                flush=True,
            )
        failed |= any(r["lost"] or r["duplicates"] or r["failures"] for r in rows)
        if backend == "fake":  # deterministic rewards: every answer can be checked exactly
            expected = expected_rewards(model, rows)  # an id names the same response in every row
            wrong = sum(check(r, expected) for r in rows)
            print(
                f"answers checked against rewards computed in this process: {sum(len(r['answers']) for r in rows)}, wrong: {wrong}"
            )
            failed |= wrong > 0
    print(
        "\nFAILED: requests lost, duplicated or answered wrongly"
        if failed
        else "\nno request lost, answered twice or answered wrongly"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
