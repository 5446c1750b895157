"""The reward server on 127.0.0.1 (real uvicorn, real HTTP) and its micro-batcher."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import socket
import subprocess
import threading
import time

import httpx
import pytest

from judge.backends.base import BackendFatalError
from judge.backends.fake import FakeBackend, seeded_p_yes
from judge.engine import Judge
from judge.rl import RewardRequest, RewardScorer
from judge.rl.microbatch import MicroBatcher
from judge.rl.listen import bind
from judge.rl.metrics import percentile
from tests.serving import PRINCIPLES, serve


def test_our_format_single_and_batch_with_evidence():
    backend = FakeBackend(seeded_p_yes(5))
    reference = RewardScorer(Judge(FakeBackend(seeded_p_yes(5))), rubric=PRINCIPLES)
    with serve(backend) as running:
        one = httpx.post(running.url + "/score", json={"id": "r1", "prompt": "Say hi", "response": "Hello!"}).json()
        expected = reference.score([RewardRequest("Say hi", "Hello!")])[0]
        assert one["id"] == "r1" and one["status"] == "scored" and one["reward"] == pytest.approx(expected.value)
        assert [c["id"] for c in one["criteria"]] == [c["id"] for c in expected.details()["criteria"]]

        items = [
            {"id": 1, "prompt": "q", "response": "a", "rubric": ["Is it short?"]},
            {"id": 2, "prompt": [{"role": "user", "content": "q"}], "response": "b", "rubric_id": "harmlessness"},
            {"id": 3, "prompt": "q", "response": "", "reference": "42"},
        ]
        results = httpx.post(running.url + "/score", json={"items": items}).json()["results"]
        assert [r["id"] for r in results] == [1, 2, 3]
        assert results[1]["rubric_id"] == "harmlessness"
        assert results[2]["reward"] == 0.0 and "decided without the judge" in results[2]["criteria"][0]["reason"]
        bad_row = [{"prompt": "q", "response": "fine"}, {"prompt": "q", "response": "fine", "rubric": "nope"}]
        results = httpx.post(running.url + "/score", json={"items": bad_row}).json()["results"]
        assert results[0]["status"] == "scored"  # a bad rubric fails its own row only
        assert results[1]["reward"] is None and results[1]["reason"].startswith("rubric: unknown rubric id 'nope'")


def test_openrlhf_format():
    with serve(FakeBackend(lambda q: None if "UNJUDGEABLE" in q.messages[-1]["content"] else 0.75)) as running:
        body = {
            "query": [
                "<user>Hi<assistant>Hello there",
                "<user>Sum?<assistant>UNJUDGEABLE",
                "no prompt prefix here",
                "<u>x<a>y",
            ],
            "prompts": ["<user>Hi<assistant>", "<user>Sum?<assistant>", "<user>other", "<u>x<a>"],
            "labels": [
                "",
                json.dumps(["The answer adds correctly."]),
                json.dumps({"id": "k", "criteria": [{"id": "kind", "text": "Is it kind?"}]}),
                "{bad",
            ],
            "datasources": ["a", "b", "c", "d"],  # forks add fields: accepted and ignored
        }
        answer = httpx.post(running.url + "/get_reward", json=body).json()
        assert answer["rewards"] == [0.75, 0.0, 0.75, 0.0]  # unscored rows get unscored_reward ...
        assert answer["extra_logs"]["rubric_unscored"] == [0.0, 1.0, 0.0, 1.0]  # ... and are flagged
        assert answer["scores"] == answer["rewards"]
        assert running.metrics()["unscored_items"] == 2


def test_openrlhf_labels_as_references_and_the_response_cut():
    seen = []

    def script(question):
        seen.append(question.messages[-1]["content"])
        return 1.0

    backend = FakeBackend(script)
    with serve(backend, openrlhf_labels="reference", unscored_reward=-1.0) as running:
        body = {"query": ["PROMPT: 2+2? ANSWER: 4"], "prompts": ["PROMPT: 2+2? ANSWER:"], "labels": ["4"]}
        assert httpx.post(running.url + "/get_reward", json=body).json()["rewards"] == [1.0]
    assert all("2+2?" in text for text in seen)
    assert not any("ANSWER: 4" in text for text in seen)  # the response was cut after its prompt


@pytest.mark.parametrize(
    ("path", "body", "status", "message"),
    [
        ("/score", b"not json", 400, "not JSON"),
        ("/score", b'{"prompt": "q"}', 422, "response"),
        ("/score", b'{"prompt": "q", "response": "a", "rubric": "{oops"}', 422, "rubric: not valid JSON"),
        ("/score", b'{"prompt": "q", "response": "a", "surprise": 1}', 422, "surprise"),
        ("/get_reward", b'{"query": ["a", "b"], "prompts": ["a"]}', 422, "differ in length"),
        ("/get_reward", b'{"prompts": ["a"]}', 422, "query"),
        ("/score", b"x" * 5000, 413, "over the limit"),
    ],
)
def test_bad_requests_get_a_json_error_and_the_server_keeps_serving(path, body, status, message):
    with serve(FakeBackend(1.0), max_request_bytes=4096) as running:
        answer = httpx.post(running.url + path, content=body, headers={"content-type": "application/json"})
        assert answer.status_code == status
        assert message in answer.json()["error"]
        assert httpx.post(running.url + "/score", json={"prompt": "q", "response": "a"}).json()["reward"] == 1.0
        assert running.metrics()["responses_by_status"] == {str(status): 1, "200": 1}


def test_a_single_item_without_any_rubric_is_a_422():
    with serve(FakeBackend(1.0), rubric=None) as running:
        answer = httpx.post(running.url + "/score", json={"prompt": "q", "response": "a"})
        assert answer.status_code == 422 and "no default rubric" in answer.json()["error"]
        rows = httpx.post(running.url + "/get_reward", json={"query": ["qa"], "prompts": ["q"]}).json()
        assert rows["rewards"] == [0.0] and rows["extra_logs"]["rubric_unscored"] == [1.0]


def test_oversize_body_without_content_length_is_refused_while_streaming():
    with serve(FakeBackend(1.0), max_request_bytes=1000) as running:

        def chunks():
            for _ in range(10):
                yield b"y" * 500

        answer = httpx.post(running.url + "/score", content=chunks())
        assert answer.status_code == 413 and "over the limit" in answer.json()["error"]


def test_too_many_items_and_a_backend_that_refuses_everything():
    class Refusing(FakeBackend):
        async def p_yes(self, questions):
            raise BackendFatalError("401: invalid API key")

    with serve(FakeBackend(1.0), max_items=2) as running:
        items = [{"prompt": "q", "response": "a"}] * 3
        answer = httpx.post(running.url + "/score", json={"items": items})
        assert answer.status_code == 413 and "limit is 2" in answer.json()["error"]
    with serve(Refusing()) as running:
        answer = httpx.post(running.url + "/score", json={"prompt": "q", "response": "a"})
        assert answer.status_code == 503 and "invalid API key" in answer.json()["error"]
        assert httpx.get(running.url + "/health").json()["status"] == "ok"


def test_concurrent_requests_share_engine_calls():
    with serve(FakeBackend(0.5, delay=0.05), max_batch=64, max_wait=0.02, slots=1) as running:

        async def fire():
            async with httpx.AsyncClient(base_url=running.url, timeout=30) as client:
                bodies = [{"id": i, "prompt": "q", "response": f"answer {i}"} for i in range(24)]
                return await asyncio.gather(*(client.post("/score", json=b) for b in bodies))

        answers = asyncio.run(fire())
        assert sorted(a.json()["id"] for a in answers) == list(range(24))  # each answered once
        metrics = running.metrics()
        assert metrics["items"] == 24 and metrics["requests"]["score"] == 24
        assert metrics["engine_calls"] < 24 and metrics["mean_batch_items"] > 1
        assert metrics["latency_s"]["p50"] is not None and metrics["in_flight"] == 0


def test_client_gone_mid_request_does_not_disturb_the_others():
    with serve(FakeBackend(1.0, delay=0.3)) as running:
        port = int(running.url.rsplit(":", 1)[1])
        body = json.dumps({"prompt": "q", "response": "a"}).encode()
        for cut in (b"", body[:10]):  # gone while the judge works; gone halfway through the body
            with socket.create_connection(("127.0.0.1", port)) as raw:
                head = f"POST /score HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
                raw.sendall(head.encode() + (body if not cut else cut))
        assert (
            httpx.post(running.url + "/score", json={"prompt": "q", "response": "b"}, timeout=10).json()["reward"]
            == 1.0
        )
        time.sleep(0.5)
        assert httpx.get(running.url + "/health").status_code == 200


def test_rubric_serve_finishes_in_flight_requests_on_sigterm(rubric_exe):
    process = subprocess.Popen(
        [rubric_exe, "serve", "--model", "fake:yes?delay=1.0", "--no-cache", "--port", "0", "--rubric", "helpfulness"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stderr.readline()
        url = re.search(r"http://[\d.]+:\d+", line).group(0)
        answers = []
        client = threading.Thread(
            target=lambda: answers.append(httpx.post(url + "/score", json={"prompt": "q", "response": "a"}, timeout=30))
        )
        client.start()
        deadline = time.monotonic() + 10
        while httpx.get(url + "/metrics").json()["in_flight"] == 0:  # the request is being judged
            assert time.monotonic() < deadline
            time.sleep(0.02)
        process.send_signal(signal.SIGTERM)
        client.join(30)
        assert (
            answers and answers[0].status_code == 200 and answers[0].json()["reward"] == pytest.approx(0.8)
        )  # all yes: (10 - 2 for the pitfall) / 10
        assert process.wait(30) == 0
        assert "stopped" in process.stderr.read()
    finally:
        process.kill()


def test_rubric_serve_warns_beyond_loopback_without_a_key_and_takes_one_from_the_environment(rubric_exe):
    from judge.rl.listen import is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("::1") and is_loopback("localhost") and not is_loopback("0.0.0.0")
    command = [rubric_exe, "serve", "--model", "fake:yes", "--no-cache", "--port", "0", "--rubric", "helpfulness"]
    for host, env, warned in (("0.0.0.0", {}, True), ("127.0.0.1", {"RUBRIC_JUDGE_API_KEY": "k3y"}, False)):
        process = subprocess.Popen(
            [*command, "--host", host], stderr=subprocess.PIPE, text=True, env={**os.environ, **env}
        )
        try:
            first = process.stderr.readline()
            assert ("without --api-key" in first) is warned
            if not warned:
                url = re.search(r"http://[\d.]+:\d+", first).group(0)
                item = {"prompt": "q", "response": "a"}
                assert httpx.post(url + "/score", json=item).status_code == 401
                assert httpx.post(url + "/score", json=item, headers={"Authorization": "Bearer k3y"}).status_code == 200
        finally:
            process.terminate()
            process.wait(30)


# -- the micro-batcher ------------------------------------------------------------------------
def test_batcher_respects_max_batch_and_answers_each_caller():
    sizes = []

    async def double(items):
        sizes.append(len(items))
        await asyncio.sleep(0.01)
        return [2 * x for x in items]

    async def run():
        batcher = MicroBatcher(double, max_batch=5, max_wait=0.05, slots=1)
        results = await asyncio.gather(*(batcher.submit(i) for i in range(23)))
        await batcher.aclose()
        return results, batcher

    results, batcher = asyncio.run(run())
    assert results == [2 * i for i in range(23)]
    assert max(sizes) == 5 and sum(sizes) == 23 and batcher.batches == len(sizes) < 23


def test_batcher_failures_reach_every_caller_of_the_batch_and_cancelled_callers_are_dropped():
    seen = []

    async def handle(items):
        seen.append(list(items))
        if "boom" in items:
            raise ValueError("boom")
        if "short" in items:
            return []
        return items

    async def run():
        batcher = MicroBatcher(handle, max_batch=10, max_wait=0.05, slots=1)
        failed = await asyncio.gather(batcher.submit("boom"), batcher.submit("x"), return_exceptions=True)
        mismatched = await asyncio.gather(batcher.submit("short"), return_exceptions=True)
        gone = asyncio.ensure_future(batcher.submit("gone"))
        await asyncio.sleep(0)
        gone.cancel()
        kept = await batcher.submit("kept")
        await batcher.aclose()
        return failed, mismatched, kept

    failed, mismatched, kept = asyncio.run(run())
    assert all(isinstance(f, ValueError) for f in failed)
    assert "returned 0 results for 1 items" in str(mismatched[0])
    assert kept == "kept" and ["kept"] in seen and not any("gone" in batch for batch in seen)


@pytest.mark.parametrize(
    "query, prompt, expected",
    [
        ("PROMPT: 2+2? ANSWER: 4<|im_end|>", "PROMPT: 2+2? ANSWER:", " 4"),  # special token left in by OpenRLHF
        ("7 is prime.<|im_end|><|endoftext|><|endoftext|>", "", "7 is prime."),  # EOS then padding
        ("<s>[INST] Is 7 prime? [/INST] Yes.</s>", "<s>[INST] Is 7 prime? [/INST]", " Yes."),
        # decode(encode(prompt)) not byte-identical: a double space came back single
        (
            "<|im_start|>user\nIs 7 prime? Answer briefly.<|im_end|>\n<|im_start|>assistant\nYes, it is.<|im_end|>",
            "<|im_start|>user\nIs 7 prime?  Answer briefly.<|im_end|>\n<|im_start|>assistant\n",
            "Yes, it is.",
        ),
        # the prompt was truncated on the left to fit prompt_max_len
        (
            "prime? Answer briefly.<|im_end|>\n<|im_start|>assistant\nYes.<|eot_id|>",
            "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nIs 7 prime? Answer briefly.<|im_end|>\n<|im_start|>assistant\n",
            "Yes.",
        ),
        # a multi-turn prompt: the split is after its last turn, not an earlier assistant header
        (
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye <|im_end|>\n<|im_start|>assistant\nBye!",
            "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n<|im_start|>user\nBye  <|im_end|>\n<|im_start|>assistant\n",
            "Bye!",
        ),
    ],
)
def test_openrlhf_response_is_cut_from_the_query(query, prompt, expected):
    from judge.rl.openrlhf import split_query

    assert split_query(query, prompt) == expected


def test_openrlhf_judges_the_response_without_its_special_tokens():
    seen = []

    def script(question):
        seen.append(question.messages[-1]["content"])
        return 1.0

    with serve(FakeBackend(script)) as running:
        body = {
            "query": ["<|im_start|>user\nIs 7 prime?<|im_end|>\n<|im_start|>assistant\n7 is prime.<|im_end|>"],
            "prompts": ["<|im_start|>user\nIs 7 prime?<|im_end|>\n<|im_start|>assistant\n"],
            "labels": [""],
        }
        assert httpx.post(running.url + "/get_reward", json=body).json()["rewards"] == [1.0]
    assert seen and all(
        "7 is prime." in text and "7 is prime.<|im_end|>" not in text and "7 is prime.\u2039|im_end" not in text
        for text in seen
    )


def test_request_limits_nesting_and_surrogates():
    with serve(FakeBackend(0.5), max_criteria_per_item=3, max_criteria=5) as running:
        four = {"prompt": "q", "response": "a", "rubric": [f"Criterion {i}?" for i in range(4)]}
        answer = httpx.post(running.url + "/score", json=four)
        assert answer.status_code == 422 and "4 criteria; the limit is 3 per item" in answer.json()["error"]
        three = {**four, "rubric": four["rubric"][:3]}
        answer = httpx.post(running.url + "/score", json={"items": [three, three]})
        assert answer.status_code == 413 and "6 criteria in one request; the limit is 5" in answer.json()["error"]
        openrlhf = {"query": ["qa", "qa"], "prompts": ["q", "q"], "labels": [json.dumps(three["rubric"])] * 2}
        assert httpx.post(running.url + "/get_reward", json=openrlhf).status_code == 413
        nested = b'{"items": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
        answer = httpx.post(running.url + "/score", content=nested)
        assert answer.status_code == 400 and "nested too deeply" in answer.json()["error"]
        surrogate = b'{"prompt": "q", "response": "bad \\ud800 text"}'
        answer = httpx.post(running.url + "/score", content=surrogate)
        assert answer.status_code == 422 and "unpaired UTF-16 surrogate" in answer.json()["error"]
        assert running.metrics()["responses_by_status"] == {"400": 1, "413": 2, "422": 2}


def test_bearer_token_is_required_when_set():
    with serve(FakeBackend(0.5), api_key="s3cret") as running:
        item = {"prompt": "q", "response": "a"}
        assert httpx.post(running.url + "/score", json=item).status_code == 401
        assert (
            httpx.post(running.url + "/score", json=item, headers={"Authorization": "Bearer wrong"}).status_code == 401
        )
        assert httpx.get(running.url + "/metrics").status_code == 401
        assert httpx.get(running.url + "/health").status_code == 200  # load balancers probe without a token
        good = {"Authorization": "Bearer s3cret"}
        assert httpx.post(running.url + "/score", json=item, headers=good).json()["status"] == "scored"
        assert httpx.get(running.url + "/metrics", headers=good).json()["responses_by_status"] == {"200": 1, "401": 3}


def test_a_client_that_leaves_has_its_work_cancelled_and_counted_apart():
    backend = FakeBackend(0.5, delay=1.0)
    with serve(backend, max_wait=0.0) as running:
        with pytest.raises(httpx.TimeoutException):
            httpx.post(running.url + "/score", json={"prompt": "q", "response": "a"}, timeout=0.2)
        deadline = time.monotonic() + 5
        while (metrics := running.metrics())["client_disconnects"] < 1:
            assert time.monotonic() < deadline, metrics
            time.sleep(0.05)
        assert metrics["responses_by_status"] == {} and metrics["items"] == 0 and metrics["in_flight"] == 0
        assert metrics["abandoned_engine_calls"] == 1  # the judging itself was stopped, not finished for nobody


def test_percentile_nearest_rank():
    assert percentile([], 0.5) is None
    values = sorted(float(i) for i in range(1, 101))
    assert percentile(values, 0.5) == 50.0 and percentile(values, 0.99) == 99.0 and percentile([3.0], 0.99) == 3.0


def test_listening_socket_lets_asyncio_turn_off_nagle():
    # asyncio sets TCP_NODELAY only on sockets whose proto is IPPROTO_TCP; with 0, every
    # answer on a kept-alive connection waited ~40 ms for a delayed ACK.
    with bind("127.0.0.1", 0) as sock:
        assert sock.proto == socket.IPPROTO_TCP


def test_several_replicas_behind_one_address_answer_as_one_server():
    """README "Several replicas": a round-robin balancer (here a loopback stand-in for nginx or
    a Kubernetes Service) in front of two `rubric serve` replicas; clients see one URL."""
    import itertools
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    reference = RewardScorer(Judge(FakeBackend(seeded_p_yes(5))), rubric=PRINCIPLES)
    with serve(FakeBackend(seeded_p_yes(5))) as first, serve(FakeBackend(seeded_p_yes(5))) as second:
        upstreams = itertools.cycle([first.url, second.url])

        class Balancer(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                answer = httpx.post(
                    next(upstreams) + self.path, content=body, headers={"Content-Type": "application/json"}
                )
                self.send_response(answer.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, *args):
                pass

        balancer = ThreadingHTTPServer(("127.0.0.1", 0), Balancer)
        threading.Thread(target=balancer.serve_forever, daemon=True).start()
        try:
            url = f"http://127.0.0.1:{balancer.server_address[1]}"
            replies = [
                httpx.post(url + "/score", json={"id": i, "prompt": f"q{i}", "response": f"a{i}"}).json()
                for i in range(10)
            ]
        finally:
            balancer.shutdown()
        expected = reference.score([RewardRequest(f"q{i}", f"a{i}") for i in range(10)])
        assert [r["reward"] for r in replies] == pytest.approx(
            [e.value for e in expected]
        )  # the same rewards, whichever replica
        assert first.metrics()["requests"] and second.metrics()["requests"]  # both replicas took requests


def test_health_answers_while_a_large_request_is_judged():
    """Before: the normalised view of a 3.5 MB response was planned on the event loop (about
    40 s), and a /health sent just after the request waited for all of it."""
    sentences = [
        f"Step {n}: the {word} grows by {n % 7} units, as the second table shows, so the total is {n * 3}."
        for n, word in enumerate(["harvest", "river", "budget", "orchard", "signal"] * 7000)
    ]
    response = " ".join(sentences)[: int(3.5 * 2**20)]
    body = {"prompt": "Summarise the growth.", "response": response}
    with serve(FakeBackend(0.9), max_request_bytes=8 * 2**20) as running:
        answers: dict[str, object] = {}
        thread = threading.Thread(
            target=lambda: answers.update(big=httpx.post(running.url + "/score", json=body, timeout=300).json())
        )
        thread.start()
        waits = []
        while thread.is_alive():  # asked all through the request: reading, the guard, planning, judging
            started = time.monotonic()
            assert httpx.get(running.url + "/health", timeout=120).status_code == 200
            waits.append(time.monotonic() - started)
            time.sleep(0.1)
        thread.join()
    assert answers["big"]["status"] == "scored"
    assert len(waits) >= 5, "the request was judged before /health was asked: nothing was measured"
    # Nearly every probe within a second; none held for long. (One run of the full suite in
    # five saw a single 1.06 s wait: the planning thread's long calls on the 3.5 MB text hold the
    # GIL. Before, the view ran on the loop and a probe waited 9 s.)
    ordered = sorted(waits)
    assert ordered[int(0.9 * (len(ordered) - 1))] < 1.0 and ordered[-1] < 2.0, waits


def test_a_malformed_message_list_is_an_unscored_item_with_the_reason():
    items = [
        {"prompt": "q", "response": []},
        {"prompt": "q", "response": [{"role": "user", "content": "hi"}]},
        {"prompt": "q", "response": [{"role": "assistant", "content": 7}]},
        {"prompt": "q", "response": [{"role": "assistant", "text": "typo"}]},
        {"prompt": "q", "response": [{"role": "assistant", "content": "fine"}]},
    ]
    with serve(FakeBackend(0.9)) as running:
        results = httpx.post(running.url + "/score", json={"items": items}).json()["results"]
    reasons = [r["reason"] for r in results]
    assert [r["status"] for r in results] == ["unscored"] * 4 + ["scored"]
    assert "empty list of messages" in reasons[0] and "no assistant message" in reasons[1]
    assert "'content' is a int" in reasons[2] and "has no 'content' (keys: role, text)" in reasons[3]
