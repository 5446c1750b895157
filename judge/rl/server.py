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

This module is the app (routes, authentication, the batcher and the in-flight budget); the
request bodies and errors are wire.py, the counters metrics.py, the socket and uvicorn
listen.py.
"""

from __future__ import annotations

import asyncio
from dataclasses import replace
import hmac
import logging
import time
from contextlib import asynccontextmanager
from typing import Any

from pydantic import ValidationError

from judge.extras import MissingExtra

try:
    from starlette.applications import Starlette
    from starlette.requests import ClientDisconnect, Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route
except ModuleNotFoundError as e:
    raise MissingExtra("serve", e.name or "starlette") from None

from judge.backends.base import BackendFatalError
from judge.jury import Jury
from judge.rl.microbatch import MicroBatcher
from judge.rl.budget import InFlightBudget, Reservation, request_bytes
from judge.rl.connections import ConnectionCounts
from judge.rl.config import ServerConfig
from judge.rl.openrlhf import split_query
from judge.rl.monitors import batch_signs
from judge.rl.metrics import Metrics
from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricError
from judge.rl.wire import (
    ApiError,
    OpenRLHFRequest,
    ScoreBatch,
    ScoreItem,
    over_budget_as_answer,
    read_json,
    validation_error,
)
from rubrics.model import Rubric

log = logging.getLogger("rubric.serve")


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
        client = object()  # this request's code checks take their own turns at the check workers
        rewards = await asyncio.gather(*(batcher.submit(replace(r, client=client)) for r in requests))
        rows = [(q.prompt, q.response, r.rubric, r) for q, r in zip(requests, rewards)]
        metrics.count(list(rewards), await asyncio.to_thread(batch_signs, rows))  # linear in the text: off the loop
        return list(rewards)

    async def score(body: Any, held: Reservation) -> JSONResponse:
        single = not (isinstance(body, dict) and "items" in body)
        try:
            items = [ScoreItem.model_validate(body)] if single else ScoreBatch.model_validate(body).items
        except ValidationError as e:
            raise validation_error(e) from None
        requests = [
            RewardRequest.of(item.prompt, item.response, resolved(rubric, single), item.reference)
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
