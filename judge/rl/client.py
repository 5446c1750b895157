"""Rewards judged on a running `rubric serve` (``POST /score`` with ``{"items": [...]}``).

A trainer whose reward workers should not each load a judge model sends its batch to one
server instead: verl's reward function (RUBRIC_JUDGE_SERVER) and TRL's ``rubric_reward(URL)``
use this client. The server's own flags decide how it judges. A batch is one request, so the
server judges it in one engine call; 429 and 5xx answers and dropped connections are retried;
rows the server could not score, or a server that never answered, come back unscored with the
reason. The bearer token is RUBRIC_JUDGE_API_KEY, as for the server.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from judge.aio import run_sync
from judge.extras import require
from judge.rl.scorer import Reward, RewardRequest, RubricValue
from rubrics.model import Rubric

RETRYABLE = (429, 502, 503, 504)


class ServedScorer:
    """Scores reward requests on the `rubric serve` at ``url``; ``rubric`` fills rows without one."""

    def __init__(self, url: str, *, rubric: RubricValue = None, timeout: float = 600.0, api_key: str | None = None):
        require("serve", "httpx", purpose="rewards from a rubric serve server")
        self.url = url.rstrip("/") + "/score"
        self.rubric = rubric
        self.timeout = timeout
        self.api_key = api_key if api_key is not None else os.environ.get("RUBRIC_JUDGE_API_KEY")

    def _body(self, requests: Sequence[RewardRequest]) -> dict[str, Any]:
        items = []
        for r in requests:
            rubric = r.rubric if r.rubric is not None else self.rubric
            if isinstance(rubric, Rubric):
                rubric = rubric.model_dump(mode="json", exclude_defaults=True)
            items.append({"prompt": r.prompt, "response": r.response, "rubric": rubric, "reference": r.reference})
        return {"items": items}

    async def details(self, requests: Sequence[RewardRequest]) -> list[dict[str, Any]]:
        """The server's answer per request (``reward``, ``reason``, ``criteria``...)."""
        import httpx
        from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

        def retryable(error: BaseException) -> bool:
            if isinstance(error, httpx.HTTPStatusError):
                return error.response.status_code in RETRYABLE
            return isinstance(error, httpx.TransportError)

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        body = self._body(requests)
        try:
            async with httpx.AsyncClient(timeout=self.timeout, headers=headers) as client:
                async for attempt in AsyncRetrying(
                    retry=retry_if_exception(retryable),
                    stop=stop_after_attempt(4),
                    wait=wait_random_exponential(multiplier=0.5, max=8),
                    reraise=True,
                ):
                    with attempt:
                        response = await client.post(self.url, json=body)
                        response.raise_for_status()
            return response.json()["results"]
        except Exception as e:  # noqa: BLE001 - the rows become unscored, with the reason
            return [{"reward": None, "reason": _reason(e, self.url), "criteria": []} for _ in requests]

    async def ascore(self, requests: Sequence[RewardRequest]) -> list[Reward]:
        return [Reward(d.get("reward"), d.get("reason")) for d in await self.details(requests)]

    def score(self, requests: Sequence[RewardRequest]) -> list[Reward]:
        return run_sync(self.ascore(requests))


def _reason(error: Exception, url: str) -> str:
    import httpx

    if isinstance(error, httpx.HTTPStatusError):
        try:
            said = error.response.json().get("error", error.response.text)
        except ValueError:
            said = error.response.text
        return f"reward server answered {error.response.status_code}: {said}"
    return f"reward server {url}: {type(error).__name__}: {error}"


def is_server_url(model: Any) -> bool:
    return isinstance(model, str) and model.startswith(("http://", "https://"))
