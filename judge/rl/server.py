"""`rubric serve`: rubric rewards over HTTP, micro-batched (Starlette on uvicorn).

Endpoints
- ``POST /score``: our format. One item ``{"prompt", "response", "rubric"|"rubric_id",
  "reference", "id"}`` or ``{"items": [...]}``; answers the reward with per-criterion
  evidence (``reward`` is null, with ``reason``, when it could not be computed).
- ``POST /get_reward``: OpenRLHF's ``--remote_rm_url`` format, ``{"query": [...],
  "prompts": [...], "labels": [...]}`` -> ``{"rewards", "scores", "extra_logs"}``. The
  response is the query after its prompt; a label is the row's rubric (or, with
  ``labels="reference"``, its reference answer). OpenRLHF needs a number for every row, so
  an unscored row gets ``unscored_reward`` and is flagged in ``extra_logs.rubric_unscored``.
- ``GET /health``, ``GET /metrics``.

Every item of every request goes through one ``MicroBatcher``, so concurrent requests
share engine calls. In a batch (``items``, or OpenRLHF's lists) a row whose rubric cannot be
read is unscored with the reason; the other rows are judged. Errors are JSON: 400 (not JSON,
or nested too deeply), 401 (a bearer token is set and the request lacks it), 413 (too large:
bytes, items, criteria per request), 422 (invalid request; a single item's bad rubric; too
many criteria in one item; text with an unpaired surrogate, which the CLI refuses too), 503
(the backend refuses every request: bad key), 500 (a bug); the server keeps serving. A
client that disconnects (or times out) before its answer has its work cancelled and is
counted under ``client_disconnects``, not as an answer.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import json
import logging
import math
import signal
import socket
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from judge.extras import MissingExtra

try:
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
except ModuleNotFoundError as e:
    raise MissingExtra("serve", e.name or "starlette") from None

from judge.backends.base import BackendFatalError
from judge.cache import CachedBackend
from judge.jury import Jury
from judge.runs.inputs import has_unpaired_surrogate
from judge.rl.microbatch import MicroBatcher
from judge.rl.budget import RETRY_AFTER, InFlightBudget, OverBudget, Reservation, request_bytes
from judge.rl.connections import ConnectionCounts, guarded_protocol
from judge.rl.config import ServerConfig
from judge.rl.openrlhf import split_query
from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricError
from rubrics.model import Rubric
from rubrics.records import completion_text

log = logging.getLogger("rubric.serve")


class ApiError(Exception):
    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any):
        super().__init__(message)
        self.status, self.message, self.extra, self.headers = status, message, extra, headers


class ScoreItem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str | int | None = None
    prompt: str | list[dict[str, Any]]
    response: str | list[dict[str, Any]]  # chat messages: the assistant's text is judged
    rubric: Any = None
    rubric_id: str | None = None
    reference: str | None = None


class ScoreBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    items: list[ScoreItem]


class OpenRLHFRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # forks add fields (datasources, token ids...)

    query: list[str]
    prompts: list[str] | None = None
    labels: list[Any] | None = None


class Metrics:
    def __init__(self) -> None:
        self.started = time.time()
        self.requests: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        self.items = 0
        self.unscored = 0
        self.in_flight = 0
        self.disconnected = 0
        self.latencies: deque[float] = deque(maxlen=10_000)

    def snapshot(self, batcher: MicroBatcher[Any, Any], backend: Any) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        backends = backend if isinstance(backend, list) else [backend]  # a jury's: one per judge
        counts = [(b.hits, b.misses) if isinstance(b, CachedBackend) else (None, None) for b in backends]
        hits = None if any(h is None for h, _ in counts) else sum(h for h, _ in counts)
        misses = None if any(m is None for _, m in counts) else sum(m for _, m in counts)
        lookups = (hits or 0) + (misses or 0)
        return {
            "uptime_s": round(time.time() - self.started, 3),
            "requests": dict(self.requests),
            "responses_by_status": {str(k): v for k, v in sorted(self.statuses.items())},
            "in_flight": self.in_flight,
            "client_disconnects": self.disconnected,
            "items": self.items,
            "unscored_items": self.unscored,
            "engine_calls": batcher.batches,
            "abandoned_engine_calls": batcher.abandoned,
            "mean_batch_items": round(batcher.batched_items / batcher.batches, 3) if batcher.batches else None,
            "latency_s": {"p50": percentile(ordered, 0.50), "p99": percentile(ordered, 0.99), "window": len(ordered)},
            "cache": {"hits": hits, "misses": misses, "hit_rate": round(hits / lookups, 4) if lookups else None},
        }


def percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of sorted values."""
    if not ordered:
        return None
    rank = max(1, min(len(ordered), math.ceil(q * len(ordered))))
    return round(ordered[rank - 1], 6)


async def read_json(request: Request, limit: int) -> Any:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, f"request body of {declared} bytes is over the limit of {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise ApiError(413, f"request body is over the limit of {limit} bytes")
        chunks.append(chunk)
    try:
        body = json.loads(b"".join(chunks))
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"the request body is not JSON: {e}") from None
    except RecursionError:
        raise ApiError(400, "the request body is nested too deeply") from None
    if has_unpaired_surrogate(body):
        raise ApiError(422, "the request holds an unpaired UTF-16 surrogate escape (e.g. \\ud800), which is not text")
    return body


@contextmanager
def over_budget_as_answer() -> Iterator[None]:
    """OverBudget as its HTTP answer: 503 with Retry-After, or 413 for a request that never fits."""
    try:
        yield
    except OverBudget as e:
        raise ApiError(413, str(e)) if e.ever else ApiError(503, str(e), headers={"Retry-After": RETRY_AFTER}) from None


def validation_error(error: ValidationError) -> ApiError:
    problems = [{"field": ".".join(str(p) for p in e["loc"]), "problem": e["msg"]} for e in error.errors()[:10]]
    return ApiError(422, f"invalid request: {problems[0]['field']}: {problems[0]['problem']}", problems=problems)


def create_app(scorer: RewardScorer, config: ServerConfig | None = None) -> Starlette:
    config = config or ServerConfig()
    batcher: MicroBatcher[RewardRequest, Reward] = MicroBatcher(
        scorer.ascore, max_batch=config.max_batch, max_wait=config.max_wait, slots=config.slots
    )
    metrics = Metrics()
    state = {"draining": False}
    budget = InFlightBudget(config.max_inflight_bytes)
    connections = ConnectionCounts()

    def resolved(rubric: Any, single: bool) -> Any:
        """The rubric as a Rubric, so its size is known; in a batch a bad one stays as it is
        and fails its own row in the scorer."""
        try:
            return scorer.resolve(rubric)
        except RubricError as e:
            if single:
                raise ApiError(422, f"rubric: {e}") from None
            return rubric

    def check_size(requests: list[RewardRequest]) -> None:
        if len(requests) > config.max_items:
            raise ApiError(413, f"{len(requests)} items in one request; the limit is {config.max_items}")
        sizes = [len(r.rubric.criteria) if isinstance(r.rubric, Rubric) else 0 for r in requests]
        for index, size in enumerate(sizes):
            if size > config.max_criteria_per_item:
                raise ApiError(
                    422, f"item {index} has {size} criteria; the limit is {config.max_criteria_per_item} per item"
                )
        if sum(sizes) > config.max_criteria:
            raise ApiError(413, f"{sum(sizes)} criteria in one request; the limit is {config.max_criteria}")

    async def rewards_for(requests: list[RewardRequest], held: Reservation) -> list[Reward]:
        check_size(requests)
        texts = [(len(r.response) + len(str(r.prompt)) + len(r.reference or ""), r.rubric) for r in requests]
        with over_budget_as_answer():
            held.grow_to(request_bytes(held.size, texts))
        rewards = await asyncio.gather(*(batcher.submit(r) for r in requests))
        metrics.items += len(rewards)
        metrics.unscored += sum(r.value is None for r in rewards)
        return list(rewards)

    async def score(body: Any, held: Reservation) -> JSONResponse:
        single = not (isinstance(body, dict) and "items" in body)
        try:
            items = [ScoreItem.model_validate(body)] if single else ScoreBatch.model_validate(body).items
        except ValidationError as e:
            raise validation_error(e) from None
        requests = [
            RewardRequest(
                prompt=item.prompt,
                response=completion_text(item.response),
                rubric=resolved(rubric, single),
                reference=item.reference,
            )
            for item in items
            for rubric in [item.rubric if item.rubric is not None else item.rubric_id]
        ]
        rewards = await rewards_for(requests, held)
        results = [{"id": item.id, **reward.details()} for item, reward in zip(items, rewards)]
        return JSONResponse(results[0] if single else {"results": results})

    async def get_reward(body: Any, held: Reservation) -> JSONResponse:
        try:
            parsed = OpenRLHFRequest.model_validate(body)
        except ValidationError as e:
            raise validation_error(e) from None
        n = len(parsed.query)
        prompts = parsed.prompts if parsed.prompts is not None else [""] * n
        labels = parsed.labels if parsed.labels is not None else [None] * n
        if len(prompts) != n or len(labels) != n:
            raise ApiError(422, f"query, prompts and labels differ in length ({n}, {len(prompts)}, {len(labels)})")
        as_rubric = config.openrlhf_labels == "rubric"
        requests = [
            RewardRequest(
                prompt=prompt,
                response=split_query(query, prompt, config.strip_tokens),
                rubric=resolved(label if as_rubric else None, single=False),
                reference=None if as_rubric or label is None else str(label),
            )
            for query, prompt, label in zip(parsed.query, prompts, labels)
        ]
        rewards = await rewards_for(requests, held)
        values = [r.value if r.value is not None else config.unscored_reward for r in rewards]
        return JSONResponse(
            {
                "rewards": values,
                "scores": [min(1.0, max(0.0, v)) for v in values],
                "extra_logs": {"rubric_unscored": [float(r.value is None) for r in rewards]},
            }
        )

    async def health(request: Request) -> JSONResponse:
        status = "draining" if state["draining"] else "ok"
        return JSONResponse(
            {"status": status, "model": scorer.judge.model_label}, status_code=503 if state["draining"] else 200
        )

    async def metrics_endpoint(request: Request) -> JSONResponse:
        judge = scorer.judge
        snapshot = metrics.snapshot(batcher, judge.backends if isinstance(judge, Jury) else judge.backend)
        return JSONResponse({**snapshot, "in_flight_budget": budget.snapshot(), "connections": connections.snapshot()})

    def authorised(request: Request) -> bool:
        if config.api_key is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        matches = hmac.compare_digest(token.strip().encode(), config.api_key.encode())
        return matches and scheme.lower() == "bearer"  # the scheme is case-insensitive (RFC 7235)

    async def until_disconnected(request: Request) -> None:
        """Returns when the client goes away (the body has been read: only a disconnect is left)."""
        while (await request.receive())["type"] != "http.disconnect":
            pass

    async def answer(handler: Any, request: Request) -> JSONResponse:
        """Read the body, then run the handler while watching the connection: a client that
        leaves has its work cancelled (its items drop out of the micro-batches). What it holds
        meanwhile comes out of the in-flight budget (judge/rl/budget.py)."""
        declared = request.headers.get("content-length", "")
        with (
            over_budget_as_answer(),
            budget.hold(
                min(int(declared), config.max_request_bytes) if declared.isdigit() else config.max_request_bytes
            ) as held,
        ):
            body = await read_json(request, config.max_request_bytes)
            work = asyncio.ensure_future(handler(body, held))
            watcher = asyncio.ensure_future(until_disconnected(request))
            try:
                await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if not work.done():
                work.cancel()
                raise ClientDisconnect()
            return work.result()

    def refused() -> JSONResponse:
        metrics.statuses[401] += 1
        return JSONResponse(
            {"error": "missing or wrong bearer token (Authorization: Bearer ...)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )

    def protected(handler: Any) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            return await handler(request) if authorised(request) else refused()

        return endpoint

    def timed(handler: Any, name: str) -> Any:
        async def endpoint(request: Request) -> JSONResponse:
            if not authorised(request):
                return refused()
            metrics.requests[name] += 1
            metrics.in_flight += 1
            start = time.perf_counter()
            try:
                response = await answer(handler, request)
            except ApiError as e:
                response = JSONResponse({"error": e.message, **e.extra}, status_code=e.status, headers=e.headers)
            except BackendFatalError as e:
                response = JSONResponse({"error": f"the judge backend refuses requests: {e}"}, status_code=503)
            except ClientDisconnect:  # nobody is listening: counted apart, not as an answer
                metrics.disconnected += 1
                return JSONResponse({"error": "client disconnected"}, status_code=499)
            except Exception as e:  # noqa: BLE001 - a bug answers 500 and the server keeps serving
                log.exception("request failed")
                response = JSONResponse({"error": f"internal error: {type(e).__name__}: {e}"}, status_code=500)
            finally:
                metrics.in_flight -= 1
            metrics.statuses[response.status_code] += 1
            if response.status_code == 200:
                metrics.latencies.append(time.perf_counter() - start)
            return response

        return endpoint

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        yield
        state["draining"] = True
        await batcher.aclose()  # in-flight requests have finished (uvicorn waited for them)

    routes = [
        Route("/score", timed(score, "score"), methods=["POST"]),
        Route("/get_reward", timed(get_reward, "get_reward"), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", protected(metrics_endpoint), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.batcher = batcher
    app.state.metrics = metrics
    app.state.config = config
    app.state.connections = connections
    return app


def is_loopback(host: str) -> bool:
    """Whether an address to listen on is reachable from this machine only."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def bind(host: str, port: int) -> socket.socket:
    """A listening socket (port 0: any free port), so the address is known before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto IPPROTO_TCP, not 0: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it a kept-alive connection waits ~40 ms (Nagle against delayed ACKs) per answer.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as e:  # the CLI prints it as one line naming the address
        sock.close()
        raise OSError(e.errno, f"cannot listen on {host}:{port}: {e.strerror or e}") from None
    return sock


def make_server(app: Starlette, *, graceful_timeout: float = 60.0, log_level: str = "warning") -> Any:
    import uvicorn

    limits: ServerConfig = app.state.config
    protocol = guarded_protocol(limits.read_timeout, limits.max_connections, app.state.connections)
    config = uvicorn.Config(
        app,
        http=protocol,
        log_level=log_level,
        timeout_graceful_shutdown=graceful_timeout,
        access_log=False,
        lifespan="on",
    )
    return uvicorn.Server(config)


def serve(
    scorer: RewardScorer,
    config: ServerConfig,
    host: str,
    port: int,
    *,
    graceful_timeout: float = 60.0,
    on_listen: Callable[[str, int], None] = lambda host, port: None,
) -> None:
    """Serve until SIGINT or SIGTERM, then finish the requests in flight and return."""
    sock = bind(host, port)
    on_listen(*sock.getsockname()[:2])
    # uvicorn finishes in-flight requests on SIGINT/SIGTERM, then re-raises the signal:
    # with these handlers that ends in a clean exit instead of death by signal.
    previous = {s: signal.signal(s, lambda *_: None) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        make_server(create_app(scorer, config), graceful_timeout=graceful_timeout).run(sockets=[sock])
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
