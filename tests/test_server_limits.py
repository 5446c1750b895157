"""What `rubric serve` bounds against a hostile or careless client, over real HTTP on loopback:
slow and surplus connections, memory held by requests in flight, the auth scheme, and
options out of range."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
import time

import httpx
import pytest

from judge.backends.fake import FakeBackend
from tests.serving import serve

HANG = 60  # seconds before a wait counts as a hang (not a timing claim)


def rubric_serve(rubric_exe, *flags):
    """`rubric serve` in its own process; returns (process, url)."""
    process = subprocess.Popen(
        [rubric_exe, "serve", "--model", "fake:yes", "--no-cache", "--port", "0", *flags],
        stderr=subprocess.PIPE,
        text=True,
    )
    seen = ""
    while "listening on" not in (line := process.stderr.readline()):
        seen += line
        assert line or process.poll() is None, seen
    return process, re.search(r"http://[\d.]+:\d+", line).group(0)


def closed(sock: socket.socket, within: float) -> tuple[bool, bytes]:
    """Whether the server closes the connection within the time (and what it sent first)."""
    sock.settimeout(within)
    received = b""
    try:
        while chunk := sock.recv(4096):
            received += chunk
        return True, received
    except TimeoutError:
        return False, received
    except OSError:
        return True, received


def test_requests_that_do_not_arrive_in_time_are_closed_and_surplus_connections_refused(rubric_exe):
    process, url = rubric_serve(rubric_exe, "--read-timeout", "1", "--max-connections", "8")
    try:
        address = ("127.0.0.1", int(url.rsplit(":", 1)[1]))
        silent = socket.create_connection(address)
        half_line = socket.create_connection(address)
        half_line.sendall(b"POST /sco")
        half_body = socket.create_connection(address)
        half_body.sendall(
            b'POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 80\r\n\r\n{"prompt":'
        )
        trickle = socket.create_connection(address)
        cut_off = False
        for byte in b"POST /score HTTP/1.1\r\nHost: x\r\n" * 4:  # a byte every 0.1 s: a byte must not restart the clock
            try:
                trickle.send(bytes([byte]))
            except OSError:
                cut_off = True
                break
            time.sleep(0.1)
        assert cut_off
        for sock in (silent, half_line, half_body, trickle):
            shut, sent = closed(sock, HANG)
            assert shut and (sent == b"" or sent.startswith(b"HTTP/1.1 408"))
        assert (
            httpx.post(url + "/score", json={"prompt": "q", "response": "a", "rubric": ["Is it fine?"]}).json()[
                "reward"
            ]
            == 1.0
        )

        held = [socket.create_connection(address) for _ in range(8)]
        surplus = socket.create_connection(address)
        shut, sent = closed(surplus, HANG)
        assert shut and sent.startswith(b"HTTP/1.1 503") and b"Retry-After: 1" in sent
        for sock in held:
            sock.close()
        time.sleep(0.2)
        connections = httpx.get(url + "/metrics").json()["connections"]
        assert connections["refused"] == 1 and connections["read_timed_out"] >= 4
    finally:
        process.kill()


def test_memory_held_in_flight_is_bounded_with_503_and_retry_after():
    text = "x" * 200_000  # 0.2 MB, judged on two criteria: about 0.6 MB held while judged
    body = {"prompt": "q", "response": text, "rubric": ["Is it short?", "Is it kind?"]}
    with serve(FakeBackend(0.8, delay=1.0), max_inflight_bytes=int(1.5 * 2**20)) as running:
        answers = []
        threads = [
            threading.Thread(target=lambda: answers.append(httpx.post(running.url + "/score", json=body, timeout=HANG)))
            for _ in range(4)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(HANG)
        statuses = sorted(a.status_code for a in answers)
        assert statuses.count(200) in (1, 2) and 503 in statuses  # what fits is judged, the rest told to come back
        refused = next(a for a in answers if a.status_code == 503)
        assert refused.headers["retry-after"] == "1" and "in-flight budget" in refused.json()["error"]
        budget = running.metrics()["in_flight_budget"]
        assert budget["used_bytes"] == 0 and budget["peak_bytes"] <= 1.5 * 2**20 and budget["refused"] >= 2
        huge = {"prompt": "q", "response": "x" * 1_000_000, "rubric": ["Is it short?", "Is it kind?"]}
        too_big = httpx.post(running.url + "/score", json=huge, timeout=HANG)
        assert too_big.status_code == 413 and "more than the server's in-flight budget" in too_big.json()["error"]


@pytest.mark.parametrize("header", ["Bearer s3cret", "bearer s3cret", "BEARER  s3cret"])
def test_the_auth_scheme_is_case_insensitive(header):
    with serve(FakeBackend(1.0), api_key="s3cret") as running:
        answer = httpx.post(
            running.url + "/score", json={"prompt": "q", "response": "a"}, headers={"Authorization": header}
        )
        assert answer.status_code == 200
        wrong = httpx.post(
            running.url + "/score", json={"prompt": "q", "response": "a"}, headers={"Authorization": "Basic s3cret"}
        )
        assert wrong.status_code == 401


def test_an_api_key_flag_warns_that_it_shows_in_ps(rubric_exe):
    process = subprocess.Popen(
        [rubric_exe, "serve", "--model", "fake:yes", "--no-cache", "--port", "0", "--api-key", "s3cret"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        warned = process.stderr.readline()
    finally:
        process.kill()
    assert "--api-key shows in the process list" in warned and "RUBRIC_JUDGE_API_KEY" in warned


def test_serve_help_explains_every_option(rubric_exe):
    text = subprocess.run([rubric_exe, "serve", "--help"], capture_output=True, text=True).stdout
    flat = " ".join(text.split())
    assert "--request-shape {per-criterion,generated,batched} per-criterion: one yes/no question" in flat
    assert (
        "--reward-gate-cap REWARD_GATE_CAP the most a response that fails a hard rule can get, with --reward-gate "
        "(default 0)" in flat
    )
    assert "prefer the environment variable RUBRIC_JUDGE_API_KEY" in flat


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--port", "70000"], "argument --port: expected an integer from 0 to 65535, got '70000'"),
        (["--max-batch", "0"], "argument --max-batch: expected an integer of at least 1, got '0'"),
        (["--slots", "0"], "argument --slots: expected an integer of at least 1, got '0'"),
        (["--max-request-mb", "0"], "argument --max-request-mb: expected a number above 0, got '0'"),
        (["--max-wait-ms", "-5"], "argument --max-wait-ms: expected a number of at least 0, got '-5'"),
        (["--batch-size", "0"], "argument --batch-size: expected an integer of at least 1, got '0'"),
        (["--host", "256.1.1.1"], "argument --host: expected an IP address or a host name, got '256.1.1.1'"),
        (["--host", "192.0.2.1"], "cannot listen on 192.0.2.1:0: Cannot assign requested address"),
    ],
)
def test_bad_serve_options_are_one_line_naming_the_option(rubric_exe, flags, message):
    result = subprocess.run(
        [rubric_exe, "serve", "--model", "fake:yes", "--port", "0", *flags],
        capture_output=True,
        text=True,
        timeout=HANG,
    )
    assert result.returncode == 2 and result.stderr.strip().splitlines()[-1].endswith(message), result.stderr
    assert "Traceback" not in result.stderr and "pydantic" not in result.stderr
