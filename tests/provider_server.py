"""Local stand-ins for LLM providers: HTTP servers on 127.0.0.1 that speak OpenAI's
chat-completions wire format (with logprobs, as vLLM does) and Anthropic's messages
format, so tests and benchmarks drive the real SDKs over real HTTP.

The "model" is scripted: P(yes) for a criterion comes from ``p_yes(criterion_text)``.
A marker ``FAULT:<name>`` in the last message injects a fault for that request:

  429          429 with Retry-After on the first two attempts, then an answer
  500          500 on every attempt            500-once   500 on the first attempt only
  hang         no answer on the first attempt (the client times out), then an answer
  malformed    200 with a body that is not JSON, every attempt
  truncated    200 whose body stops short of its Content-Length, first attempt only
  400          400 with the provider's message (not retryable)
  nologprobs   an answer without logprobs      maybe   top tokens with neither Yes nor No
  badjson      structured output that fails validation, every attempt
  badjson-once structured output that fails validation on the first attempt only
  unknown-label  batched verdict: first criterion labelled "maybe", plus an unknown id
"""

from __future__ import annotations

import hashlib
import json
import math
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.provider_batches import BatchDesk, handle_get, handle_post

FAULT = re.compile(r"FAULT:([a-z0-9-]+)")
CRITERION = re.compile(r"Criterion: (.*)\Z", re.S)
BATCHED_CRITERION = re.compile(r"^(c\d+): (.*)$", re.M)


def hashed_p_yes(text: str) -> float:
    """A stable P(yes) in [0.05, 0.95] for any criterion text."""
    digest = hashlib.sha256(text.encode()).digest()
    return 0.05 + 0.9 * int.from_bytes(digest[:4], "big") / 2**32


@dataclass
class Logged:
    path: str
    fault: str | None
    attempt: int
    time: float
    status: int
    body: dict[str, Any]


class ProviderServer:
    def __init__(
        self,
        p_yes: Callable[[str], float] = hashed_p_yes,
        *,
        latency: float = 0.0,
        hang_seconds: float = 3.0,
        retry_after: str = "1",
        api_key: str | None = None,
        seed: int = 0,
    ):
        self.p_yes = p_yes
        self.latency = latency
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        self.api_key = api_key
        self.requests: list[Logged] = []
        self._attempts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._server: ThreadingHTTPServer | None = None
        self.batches = BatchDesk()  # jobs of the batch APIs (tests/provider_batches.py)
        self.cached_prefixes: set[str] = set()  # Anthropic prompt caching: prefixes written

    # -- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> ProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> ProviderServer:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler, bind_and_activate=False)
        server.request_queue_size = 256  # many clients connect at once in the benchmark
        server.daemon_threads = True
        server.server_bind()
        server.server_activate()
        server.owner = self  # type: ignore[attr-defined]
        self._server = server
        threading.Thread(target=server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    # -- bookkeeping ---------------------------------------------------------------------------
    def attempts_for(self, fault: str) -> int:
        return sum(1 for r in self.requests if r.fault == fault)

    def _attempt(self, key: str) -> int:
        with self._lock:
            self._attempts[key] += 1
            return self._attempts[key]

    def _log(self, entry: Logged) -> None:
        with self._lock:
            self.requests.append(entry)

    def sample(self) -> float:
        with self._lock:
            return self._random.random()


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content blocks
        return "".join(block.get("text", "") for block in content if isinstance(block, dict))
    return ""


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as real providers
    disable_nagle_algorithm = True  # headers and body go out in separate writes: no 40 ms stall

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        pass

    @property
    def owner(self) -> ProviderServer:
        return self.server.owner  # type: ignore[attr-defined]

    def do_GET(self) -> None:  # noqa: N802
        self.owner._log(Logged(self.path, None, 1, time.monotonic(), 200, {}))
        if not handle_get(self):
            self._send(404, b'{"error": {"message": "no such endpoint"}}')

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        raw = self.rfile.read(int(self.headers.get("content-length", 0)))
        if handle_post(self, raw):  # the batch endpoints
            self.owner._log(Logged(self.path, None, 1, time.monotonic(), 200, {}))
            return
        body = json.loads(raw or b"{}")
        anthropic = self.path.rstrip("/").endswith("/messages")
        messages = body.get("messages", [])
        # The question is the first user turn; instructor's re-asks come after it.
        last = next((_text(m["content"]) for m in messages if m.get("role") == "user"), "")
        fault_match = FAULT.search(last)
        fault = fault_match.group(1) if fault_match else None
        # Attempts are counted per question, so re-asks and retries of one question add up.
        key = hashlib.sha256(last.encode()).hexdigest()
        attempt = self.owner._attempt(key)
        entry = Logged(self.path, fault, attempt, time.monotonic(), 0, body)
        self.owner._log(entry)  # on arrival: a hung request counts as sent
        entry.status = self._respond(body, anthropic, last, fault, attempt)

    # -- responses -------------------------------------------------------------------------------
    def _respond(self, body: dict[str, Any], anthropic: bool, last: str, fault: str | None, attempt: int) -> int:
        owner = self.owner
        if owner.latency:
            time.sleep(owner.latency)
        if owner.api_key is not None:
            given = self.headers.get("x-api-key") or self.headers.get("authorization", "").removeprefix("Bearer ")
            if given != owner.api_key:
                return self._error(401, "Incorrect API key provided.", anthropic, "authentication_error")
        if fault == "429" and attempt <= 2:
            return self._error(
                429, "Rate limit reached; slow down.", anthropic, "rate_limit_error", {"retry-after": owner.retry_after}
            )
        if fault == "500" or (fault == "500-once" and attempt == 1):
            return self._error(500, "The server had an error while processing your request.", anthropic, "api_error")
        if fault == "400":
            return self._error(
                400, "This model's maximum context length is 8192 tokens.", anthropic, "invalid_request_error"
            )
        if fault == "hang" and attempt == 1:
            time.sleep(owner.hang_seconds)
            self.close_connection = True
            return 0
        if fault == "malformed":
            return self._send(200, b'{"id": "cmpl-1", "choices": [{"index": 0, "message": {"role": "assist')
        payload = (
            self._anthropic_reply(body, last, fault, attempt)
            if anthropic
            else self._openai_reply(body, last, fault, attempt)
        )
        data = json.dumps(payload).encode()
        if fault == "truncated" and attempt == 1:
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data[: len(data) // 2])
            self.wfile.flush()
            self.close_connection = True
            return 200
        return self._send(200, data)

    def _send(
        self, status: int, data: bytes, headers: dict[str, str] | None = None, content_type: str = "application/json"
    ) -> int:
        try:
            self.send_response(status)
            self.send_header("content-type", content_type)
            self.send_header("content-length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        return status

    def _error(
        self, status: int, message: str, anthropic: bool, kind: str, headers: dict[str, str] | None = None
    ) -> int:
        if anthropic:
            payload = {"type": "error", "error": {"type": kind, "message": message}}
        else:
            payload = {"error": {"message": message, "type": kind, "param": None, "code": None}}
        return self._send(status, json.dumps(payload).encode(), headers)

    # -- the scripted model ------------------------------------------------------------------------
    def _verdict(self, body: dict[str, Any], last: str, fault: str | None, attempt: int) -> dict[str, Any]:
        """The structured output asked for: a batched verdict or a yes/no verdict."""
        sampled = float(body.get("temperature") or 0.0) > 0

        def says_yes(criterion: str) -> bool:
            p = self.owner.p_yes(criterion)
            return self.owner.sample() < p if sampled else p >= 0.5

        if fault == "badjson" or (fault == "badjson-once" and attempt == 1):
            return {"reasoning": "I think so", "satisfied": "perhaps"}
        batched = BATCHED_CRITERION.findall(last)
        if batched:
            labels = [
                {"id": key, "reasoning": "scripted", "satisfied": says_yes(text.strip())} for key, text in batched
            ]
            if fault == "unknown-label":
                labels[0]["satisfied"] = "maybe"
                labels.append({"id": "c99", "reasoning": "invented", "satisfied": True})
            return {"criteria": labels}
        match = CRITERION.search(last.split("\n\nInstead of a single word")[0].split("\n\nAnswer with JSON only")[0])
        criterion = match.group(1).strip() if match else last
        return {"reasoning": "scripted verdict", "satisfied": says_yes(criterion)}

    def _openai_reply(self, body: dict[str, Any], last: str, fault: str | None, attempt: int) -> dict[str, Any]:
        prompt_tokens = sum(len(_text(m.get("content"))) for m in body.get("messages", [])) // 4
        message: dict[str, Any] = {"role": "assistant", "content": None}
        logprobs = None
        if body.get("tools"):
            name = body["tools"][0]["function"]["name"]
            arguments = json.dumps(self._verdict(body, last, fault, attempt))
            message["tool_calls"] = [
                {"id": "call_1", "type": "function", "function": {"name": name, "arguments": arguments}}
            ]
        elif body.get("response_format"):
            message["content"] = json.dumps(self._verdict(body, last, fault, attempt))
        elif body.get("logprobs"):
            match = CRITERION.search(last)
            p = self.owner.p_yes(match.group(1).strip() if match else last)
            if fault == "maybe":
                top = [("Maybe", 0.7), ("Perhaps", 0.2), ("It", 0.05)]
            else:  # Yes/No mass 0.95, split over two spellings each
                top = [
                    ("Yes", 0.9 * p),
                    ("No", 0.9 * (1 - p)),
                    (" yes", 0.05 * p),
                    ("no", 0.05 * (1 - p)),
                    ("The", 0.01),
                ]
            top = [(t, lp) for t, lp in top if lp > 0][: int(body.get("top_logprobs") or 0) or 1]
            chosen = max(top, key=lambda a: a[1])
            message["content"] = chosen[0]
            entries = [{"token": t, "logprob": math.log(v), "bytes": list(t.encode())} for t, v in top]
            if fault != "nologprobs":
                logprobs = {
                    "content": [
                        {
                            "token": chosen[0],
                            "logprob": math.log(chosen[1]),
                            "bytes": list(chosen[0].encode()),
                            "top_logprobs": entries,
                        }
                    ]
                }
        else:
            message["content"] = "Yes"
        completion_tokens = max(1, len(json.dumps(message)) // 4)
        return {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": body.get("model", "judge"),
            "choices": [
                {
                    "index": 0,
                    "message": message,
                    "logprobs": logprobs,
                    "finish_reason": "tool_calls" if body.get("tools") else "stop",
                }
            ],
            "usage": {
                "prompt_tokens": prompt_tokens,
                "completion_tokens": completion_tokens,
                "total_tokens": prompt_tokens + completion_tokens,
            },
        }

    def _anthropic_reply(self, body: dict[str, Any], last: str, fault: str | None, attempt: int) -> dict[str, Any]:
        text = _text(body.get("system")) + "".join(_text(m.get("content")) for m in body.get("messages", []))
        cached = self._prompt_cache(body)
        if body.get("tools"):
            tool = body["tools"][0]["name"]
            content = [
                {"type": "tool_use", "id": "toolu_1", "name": tool, "input": self._verdict(body, last, fault, attempt)}
            ]
            stop = "tool_use"
        else:
            content = [{"type": "text", "text": "Yes"}]
            stop = "end_turn"
        return {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": body.get("model", "judge"),
            "content": content,
            "stop_reason": stop,
            "stop_sequence": None,
            "usage": {
                "input_tokens": len(text) // 4 - sum(cached.values()),
                "output_tokens": max(1, len(json.dumps(content)) // 4),
                **cached,
            },
        }

    def _prompt_cache(self, body: dict[str, Any]) -> dict[str, int]:
        """Anthropic's cache accounting: the text up to a cache_control block is written once, then read."""
        prefix = ""
        for message in body.get("messages", []):
            for block in message["content"] if isinstance(message["content"], list) else []:
                prefix += block.get("text", "")
                if block.get("cache_control"):
                    with self.owner._lock:
                        seen = prefix in self.owner.cached_prefixes
                        self.owner.cached_prefixes.add(prefix)
                    tokens = len(prefix) // 4
                    return (
                        {"cache_read_input_tokens": tokens, "cache_creation_input_tokens": 0}
                        if seen
                        else {"cache_read_input_tokens": 0, "cache_creation_input_tokens": tokens}
                    )
        return {}


def main() -> None:
    """Serve in a process of its own (benchmarks: no GIL shared with the client)."""
    import argparse
    import sys

    parser = argparse.ArgumentParser(
        description="A scripted LLM provider on 127.0.0.1 (OpenAI and Anthropic wire formats)."
    )
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per request")
    args = parser.parse_args()
    server = ProviderServer(latency=args.latency).start()
    print(server.url, flush=True)
    try:
        sys.stdin.read()  # until the parent closes our stdin
    finally:
        server.stop()


if __name__ == "__main__":
    main()
