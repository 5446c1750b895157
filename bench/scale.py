"""How a single-process `rubric judge` run scales with its input, side by side in one run:

(a) peak memory (RSS) of a JSONL run with a fake judge at a small and a large input: the
    verdicts are summarised as they are written, not kept, so what grows with the rows is
    only what is kept per row (the input's ids and hashes for resuming);
(b) throughput of the same run with an fsync after every line vs the batched fsync
    (every 256 lines or second; every line still reaches the OS at once, kill -9 safe).

    python bench/scale.py --small 10000 --large 200000

Each run is a fresh `python -c` process (its own peak RSS, from getrusage), on a generated
input of one-criterion items (fake:yes judge, no cache), one after the other.
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
from rubrics.sources import RubricSource
start = time.perf_counter()
summary = judge_file(Judge(get_backend("fake:yes"), batch_size=256, concurrency=4), {input!r}, {output!r},
                     RubricSource.from_option(None), progress=False, overwrite=True)
seconds = time.perf_counter() - start
print(summary.items, seconds, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def make_input(path: Path, rows: int) -> None:
    with open(path, "w", encoding="utf-8") as handle:
        for n in range(rows):
            handle.write(json.dumps({"id": f"row-{n}", "prompt": f"What is {n} + 1?", "response": f"It is {n + 1}.",
                                     "rubric": ["The answer is correct."]}) + "\n")


def run(input_path: Path, output: Path, sync_every: int) -> tuple[int, float, float]:
    code = RUN.format(root=str(ROOT), sync_every=sync_every, input=str(input_path), output=str(output))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    items, seconds, rss_kb = done.stdout.split()
    return int(items), float(seconds), int(rss_kb) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--large", type=int, default=200_000)
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
    print(f"rubric judge, fake:yes, one criterion per item ({time.time() - started:.0f} s in all)")
    print(f"{'run':<28} {'rows':>9} {'seconds':>8} {'rows/s':>8} {'peak RSS MB':>12}")
    for (sync, rows), (items, seconds, rss) in results.items():
        assert items == rows
        print(f"{'fsync ' + sync:<28} {rows:>9} {seconds:>8.1f} {rows / seconds:>8.0f} {rss:>12.0f}")
    small, large = results[("batched", args.small)], results[("batched", args.large)]
    line = results[("per-line", args.small)]
    print(f"(a) peak RSS {args.large} vs {args.small} rows: {large[2] / small[2]:.2f}x")
    print(f"(b) throughput, batched fsync vs an fsync per line ({args.small} rows): {(args.small / small[1]) / (args.small / line[1]):.2f}x")


if __name__ == "__main__":
    main()
