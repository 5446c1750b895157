"""What hostile clients can take from the reward server (`rubric serve`) over loopback.

1. A burst of large bodies: ``--burst`` (32) concurrent requests of one item with a
   ``--body-mb`` (3.5 MB) response, judged on the six criteria of the library's
   helpfulness rubric, against a server with the in-flight budget (the default 512 MB) and
   one without it (``--max-inflight-mb 0``), side by side. Printed: idle RSS (after one
   small request), peak RSS (the kernel's high-water mark, VmHWM), the answers by status,
   and the goal: peak at most 2x idle + the budget.
2. Slow connections: ``--slow`` (150) connections that send nothing, half a request line, or
   whole headers and half a body, against a server with ``--read-timeout 2``; counted open
   before and after the timeout (goal: 0 after), and a 1,200-connection flood against the
   connection cap (1,024): how many were refused with 503.

    python bench/server_limits.py [--burst 32] [--body-mb 3.5] [--slow 150]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import socket
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from reward_server_load import serve_process  # noqa: E402


def server(*flags: str) -> contextlib.AbstractContextManager[tuple[str, int]]:
    """`rubric serve` with a fake judge taking 0.5 s per call, in its own process: (url, pid)."""
    return serve_process("--model", "fake:yes?delay=0.5", "--rubric", "helpfulness", *flags)


def memory_mb(pid: int, field: str) -> float:
    """VmRSS (now) or VmHWM (peak) of a process, in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise KeyError(field)


async def burst(url: str, count: int, body_mb: float) -> Counter[int]:
    import aiohttp

    text = ("The sky is blue because air scatters short wavelengths of sunlight most. " * 200_000)[
        : int(body_mb * 2**20)
    ]
    statuses: Counter[int] = Counter()
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=600)) as session:

        async def one(number: int) -> None:
            body = json.dumps({"id": number, "prompt": "Why is the sky blue?", "response": f"{number}: {text}"})
            async with session.post(url + "/score", data=body, headers={"content-type": "application/json"}) as answer:
                await answer.read()
                statuses[answer.status] += 1

        await asyncio.gather(*(one(n) for n in range(count)))
    return statuses


def burst_row(label: str, flags: list[str], args: argparse.Namespace, budget_mb: float | None) -> None:
    import httpx

    with server(*flags) as (url, pid):
        httpx.post(url + "/score", json={"prompt": "q", "response": "warm-up"}, timeout=60)
        idle = memory_mb(pid, "VmRSS")
        statuses = asyncio.run(burst(url, args.burst, args.body_mb))
        peak = memory_mb(pid, "VmHWM")
    answered = ", ".join(f"{n} x {status}" for status, n in sorted(statuses.items()))
    goal = f"{2 * idle + budget_mb:8.0f}" if budget_mb is not None else f"{'-':>8}"
    verdict = "" if budget_mb is None else ("  met" if peak <= 2 * idle + budget_mb else "  NOT met")
    print(f"{label:<24} {idle:8.0f} {peak:8.0f} {peak / idle:7.2f}x {goal}{verdict}   {answered}", flush=True)


def open_slowly(address: tuple[str, int], kind: str) -> socket.socket:
    sock = socket.create_connection(address, timeout=10)
    if kind == "half a request line":
        sock.sendall(b"POST /sco")
    elif kind == "half a body":
        sock.sendall(
            b'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"prompt": '
        )
    return sock


def still_open(sock: socket.socket) -> bool:
    sock.setblocking(False)
    try:
        while True:
            if not sock.recv(65536):
                return False  # closed by the server (after a 408, or at once)
    except BlockingIOError:
        return True  # nothing more to read, and not closed
    except OSError:
        return False


def slow_connections(count: int) -> None:
    kinds = ["nothing", "half a request line", "half a body"]
    with server("--read-timeout", "2") as (url, _):
        host, port = url.removeprefix("http://").split(":")
        socks = [(kind, open_slowly((host, int(port)), kind)) for n in range(count) for kind in [kinds[n % 3]]]
        time.sleep(0.5)
        before = sum(still_open(s) for _, s in socks)
        time.sleep(3.0)
        after = Counter(kind for kind, s in socks if still_open(s))
        for _, s in socks:
            s.close()
    print(
        f"{count} slow connections (a third each: {', '.join(kinds)}): {before} open after 0.5 s, "
        f"{sum(after.values())} open after the 2 s read timeout (+1 s){'; ' + str(dict(after)) if after else ''}",
        flush=True,
    )
    with server() as (url, pid):
        host, port = url.removeprefix("http://").split(":")
        socks = []
        for _ in range(1200):
            try:
                socks.append(socket.create_connection((host, int(port)), timeout=10))
            except OSError:
                break
        time.sleep(1.0)
        refused = sum(not still_open(s) for s in socks)
        for s in socks:
            s.close()
    print(
        f"{len(socks)} idle connections against the cap of 1024: {refused} answered 503 and closed at once", flush=True
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--burst", type=int, default=32)
    parser.add_argument("--body-mb", type=float, default=3.5)
    parser.add_argument("--slow", type=int, default=150)
    args = parser.parse_args()
    print(
        f"== a burst of {args.burst} concurrent {args.body_mb:g} MB bodies (one item each, 6 criteria), fake judge 0.5 s a call"
    )
    print(f"{'server':<24} {'idle MB':>8} {'peak MB':>8} {'peak/idle':>8} {'goal MB':>8}   answers")
    burst_row("no in-flight budget", ["--max-inflight-mb", "0"], args, None)
    burst_row("budget 512 MB (default)", [], args, 512.0)
    print("\n== slow clients")
    slow_connections(args.slow)
    return 0


if __name__ == "__main__":
    sys.exit(main())
