"""What every request to `rubric serve` passes through: its bearer token, its body read
within the in-flight budget, a client that leaves (its work cancelled), errors answered as
JSON, and the counters of requests, statuses and latency."""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse

from judge.backends.base import BackendFatalError
from judge.rl.budget import InFlightBudget, Reservation
from judge.rl.config import ServerConfig
from judge.rl.metrics import Metrics
from judge.rl.wire import ApiError, over_budget_as_answer, read_json

log = logging.getLogger("rubric.serve")
Handler = Callable[[Any, Reservation], Awaitable[JSONResponse]]  # (request body, its budget) -> answer
Endpoint = Callable[[Request], Awaitable[JSONResponse]]


class Gate:
    def __init__(self, config: ServerConfig, metrics: Metrics, budget: InFlightBudget):
        self.config, self.metrics, self.budget = config, metrics, budget

    def protected(self, endpoint: Endpoint) -> Endpoint:
        """An endpoint behind the bearer token (when one is set)."""

        async def guarded(request: Request) -> JSONResponse:
            return await endpoint(request) if self.authorised(request) else self.refused()

        return guarded

    def timed(self, handler: Handler, name: str) -> Endpoint:
        """A body handler as an endpoint: authorised, counted, timed, its errors answered."""

        async def endpoint(request: Request) -> JSONResponse:
            if not self.authorised(request):
                return self.refused()
            metrics = self.metrics
            metrics.requests[name] += 1
            metrics.in_flight += 1
            start = time.perf_counter()
            try:
                response = await self.answer(handler, request)
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

    async def answer(self, handler: Handler, request: Request) -> JSONResponse:
        """Read the body, then run the handler while watching the connection: a client that
        leaves has its work cancelled (its items drop out of the micro-batches). What it holds
        meanwhile comes out of the in-flight budget (judge/rl/budget.py)."""
        limit = self.config.max_request_bytes
        declared = request.headers.get("content-length", "")
        with (
            over_budget_as_answer(),
            self.budget.hold(min(int(declared), limit) if declared.isdigit() else limit) as held,
        ):
            body = await read_json(request, limit)
            work = asyncio.ensure_future(handler(body, held))
            watcher = asyncio.ensure_future(_until_disconnected(request))
            try:
                await asyncio.wait({work, watcher}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                watcher.cancel()
            if not work.done():
                work.cancel()
                raise ClientDisconnect()
            return work.result()

    def authorised(self, request: Request) -> bool:
        if self.config.api_key is None:
            return True
        scheme, _, token = request.headers.get("authorization", "").strip().partition(" ")
        matches = hmac.compare_digest(token.strip().encode(), self.config.api_key.encode())
        return matches and scheme.lower() == "bearer"  # the scheme is case-insensitive (RFC 7235)

    def refused(self) -> JSONResponse:
        self.metrics.statuses[401] += 1
        return JSONResponse(
            {"error": "missing or wrong bearer token (Authorization: Bearer ...)"},
            status_code=401,
            headers={"WWW-Authenticate": "Bearer"},
        )


async def _until_disconnected(request: Request) -> None:
    """Returns when the client goes away (the body has been read: only a disconnect is left)."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
