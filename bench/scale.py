"""How a single-process `rubric judge` run scales with its input, side by side in one run:

(a) peak memory (RSS) of a JSONL run with a fake judge at a small and a large input: the
    verdicts are summarised as they are written, not kept, so what grows with the rows is
    only what is kept per row (the input's ids and hashes for resuming);
(b) throughput of the same run with an fsync after every line vs the batched fsync
    (every 256 lines or second; every line still reaches the OS at once, kill -9 safe);
(c) `rubric judge --engine ray` with 1, 2 and 4 actors on a fake judge that takes 50 ms a
    call, one call at a time per actor (I/O-bound, as an API judge is, so two cores can show
    it): rows/s, and the ratio to ideal scaling (N times one actor's rate).

    python bench/scale.py --small 10000 --large 200000 --ray-rows 800

Each run of (a) and (b) is a fresh `python -c` process (its own peak RSS, from getrusage), on
a generated input of one-criterion items (fake:yes judge, no cache), one after the other.
(c) runs in one more process on a local Ray cluster of 4 logical CPUs (each actor reserves
half of one); its times include starting the actors, not the cluster.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

RUN = """
import resource, sys, time
sys.path.insert(0, {root!r})
import judge.runs.log as log
log.VerdictLog.__init__.__kwdefaults__["sync_every"] = {sync_every}
from judge.backends import get_backend
from judge.engine import Judge
from judge.runs.files import judge_file
from judge.rubric_lookup import RubricSource
start = time.perf_counter()
summary = judge_file(Judge(get_backend("fake:yes"), batch_size=256, concurrency=4), {input!r}, {output!r},
                     RubricSource.from_option(None), progress=False, overwrite=True)
seconds = time.perf_counter() - start
print(summary.items, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_input(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(rows):
            handle.write(
                json.dumps(
                    {
                        "id": f"row-{n}",
                        "prompt": f"What is {n} + 1?",
                        "response": f"It is {n + 1}.",
                        "rubric": ["The answer is correct."],
                    }
                )
                + "\n"
            )


def run(input_path: Path, output: Path, sync_every: int) -> tuple[int, float, float]:
    code = RUN.format(root=str(ROOT), sync_every=sync_every, input=str(input_path), output=str(output))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    items, seconds, rss_kb = done.stdout.split()
    return int(items), float(seconds), int(rss_kb) / 1024


RAY_RUN = """
import sys, time
sys.path.insert(0, {root!r})
import ray
ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
from cli import main
for actors in (1, 2, 4):
    start = time.perf_counter()
    code = main(["judge", "--engine", "ray", "--actors", str(actors), "--cpus-per-actor", "0.5", "--ray-batch-rows", "10",
                 "--model", "fake:yes?delay=0.05", "--batch-size", "1", "--concurrency", "1", "--no-cache", "--quiet",
                 "--input", {input!r}, "--output", {output!r} + f"/{{actors}}.parquet"])
    print(actors, time.perf_counter() - start, code)
"""


def run_ray(input_path: Path, output: Path) -> dict[int, float]:
    code = RAY_RUN.format(root=str(ROOT), input=str(input_path), output=str(output))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {int(a): float(s) for a, s, _ in (line.split() for line in done.stdout.splitlines() if line.strip())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=200_000)
    parser.add_argument("--ray-rows", type=int, default=800, help="(c): rows per Ray run (0: skip (c))")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp())
    inputs = {}
    for rows in (args.small, args.large):
        inputs[rows] = work / f"in-{rows}.jsonl"
        make_input(inputs[rows], rows)
    started = time.time()
    results = {}
    for rows in (args.small, args.large):
        results[("batched", rows)] = run(inputs[rows], work / f"out-{rows}.jsonl", 256)
    results[("per-line", args.small)] = run(inputs[args.small], work / "out-line.jsonl", 1)
    ray_times = {}
    if args.ray_rows:
        make_input(work / "in-ray.jsonl", args.ray_rows)
        ray_times = run_ray(work / "in-ray.jsonl", work / "ray")
    print(f"rubric judge, fake:yes, one criterion per item ({time.time() - started:.0f} s in all)")
    print(f"{'run':<28} {'rows':>9} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12}")
    for (sync, rows), (items, seconds, rss) in results.items():
        assert items == rows
        print(f"{'fsync ' + sync:<28} {rows:>9} {seconds:>8.1f} {rows / seconds:>8.0f} {rss:>12.0f}")
    small, large = results[("batched", args.small)], results[("batched", args.large)]
    line = results[("per-line", args.small)]
    print(f"(a) peak RSS {args.large} vs {args.small} rows: {large[2] / small[2]:.2f}x")
    print(
        f"(b) throughput, batched fsync vs an fsync per line ({args.small} rows): {(args.small / small[1]) / (args.small / line[1]):.2f}x"
    )
    if ray_times:
        one = args.ray_rows / ray_times[1]
        print(f"(c) --engine ray, fake judge 50 ms a call, {args.ray_rows} rows (ideal per actor: 20 rows/s):")
        for actors, seconds in ray_times.items():
            rate = args.ray_rows / seconds
            print(
                f"    {actors} actor{'s' if actors > 1 else ' '}  {seconds:6.1f} s  {rate:6.1f} rows/s  "
                f"{rate / one:.2f}x one actor  ratio to ideal {rate / (actors * one):.2f}"
            )


if __name__ == "__main__":
    main()
