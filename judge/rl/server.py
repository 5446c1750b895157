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

This module puts the app together (routes, health, metrics, shutdown); what the endpoints
do with a body (rewards, micro-batched) is handlers.py, what every request passes through
(its bearer token, its body within budget, a client that leaves, errors as answers, the
counters) is gate.py; the request bodies and errors are wire.py, the counters metrics.py,
the socket and uvicorn listen.py.
"""

from __future__ import annotations

from contextlib import asynccontextmanager

from judge.extras import MissingExtra

try:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
except ModuleNotFoundError as e:
    raise MissingExtra("serve", e.name or "starlette") from None

from judge.rl.budget import InFlightBudget
from judge.rl.config import ServerConfig
from judge.rl.connections import ConnectionCounts
from judge.rl.gate import Gate
from judge.rl.handlers import RewardHandlers
from judge.rl.metrics import Metrics
from judge.rl.scorer import RewardScorer


def create_app(scorer: RewardScorer, config: ServerConfig | None = None) -> Starlette:
    config = config or ServerConfig()
    metrics = Metrics()
    handlers = RewardHandlers(scorer, config, metrics)
    budget = InFlightBudget(config.max_inflight_bytes)
    gate = Gate(config, metrics, budget)
    connections = ConnectionCounts()
    draining = False

    async def health(request: Request) -> JSONResponse:
        status = "draining" if draining else "ok"
        return JSONResponse({"status": status, "model": scorer.judge.model_label}, status_code=503 if draining else 200)

    async def metrics_endpoint(request: Request) -> JSONResponse:
        snapshot = metrics.snapshot(handlers.batcher, scorer.judge.backends)
        return JSONResponse({**snapshot, "in_flight_budget": budget.snapshot(), "connections": connections.snapshot()})

    @asynccontextmanager
    async def lifespan(app: Starlette):  # type: ignore[no-untyped-def]
        nonlocal draining
        yield
        draining = True
        await handlers.batcher.aclose()  # in-flight requests have finished (uvicorn waited for them)

    routes = [
        Route("/score", gate.timed(handlers.score, "score"), methods=["POST"]),
        Route("/get_reward", gate.timed(handlers.get_reward, "get_reward"), methods=["POST"]),
        Route("/health", health, methods=["GET"]),
        Route("/metrics", gate.protected(metrics_endpoint), methods=["GET"]),
    ]
    app = Starlette(routes=routes, lifespan=lifespan)
    app.state.batcher = handlers.batcher
    app.state.metrics = metrics
    app.state.config = config
    app.state.connections = connections
    return app
