"""What `rubric serve`'s endpoints do with a request body: our format (``/score``) and
OpenRLHF's (``/get_reward``) turned into reward requests, checked against the limits,
micro-batched into engine calls, and answered; the hack monitors watch each request."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

from pydantic import ValidationError
from starlette.responses import JSONResponse

from judge.rl.budget import Reservation, request_bytes
from judge.rl.config import ServerConfig
from judge.rl.metrics import Metrics
from judge.rl.microbatch import MicroBatcher
from judge.rl.monitors import batch_signs
from judge.rl.openrlhf import split_query
from judge.rl.scorer import Reward, RewardRequest, RewardScorer, RubricError
from judge.rl.wire import ApiError, OpenRLHFRequest, ScoreBatch, ScoreItem, over_budget_as_answer, validation_error
from rubrics.model import Rubric


class RewardHandlers:
    """The endpoints' work, over one micro-batcher that every request shares."""

    def __init__(self, scorer: RewardScorer, config: ServerConfig, metrics: Metrics):
        self.scorer, self.config, self.metrics = scorer, config, metrics
        self.batcher: MicroBatcher[RewardRequest, Reward] = MicroBatcher(
            scorer.ascore, max_batch=config.max_batch, max_wait=config.max_wait, slots=config.slots
        )

    async def score(self, body: Any, held: Reservation) -> JSONResponse:
        """``POST /score``: one item or ``{"items": [...]}``, each answered with its evidence."""
        single = not (isinstance(body, dict) and "items" in body)
        try:
            items = [ScoreItem.model_validate(body)] if single else ScoreBatch.model_validate(body).items
        except ValidationError as e:
            raise validation_error(e) from None
        requests = [
            RewardRequest.of(item.prompt, item.response, self.resolved(rubric, single), item.reference)
            for item in items
            for rubric in [item.rubric if item.rubric is not None else item.rubric_id]
        ]
        rewards = await self.rewards_for(requests, held)
        results = [{"id": item.id, **reward.details()} for item, reward in zip(items, rewards)]
        return JSONResponse(results[0] if single else {"results": results})

    async def get_reward(self, body: Any, held: Reservation) -> JSONResponse:
        """``POST /get_reward``: OpenRLHF's lists; a number for every row (unscored: flagged)."""
        try:
            parsed = OpenRLHFRequest.model_validate(body)
        except ValidationError as e:
            raise validation_error(e) from None
        n = len(parsed.query)
        prompts = parsed.prompts if parsed.prompts is not None else [""] * n
        labels = parsed.labels if parsed.labels is not None else [None] * n
        if len(prompts) != n or len(labels) != n:
            raise ApiError(422, f"query, prompts and labels differ in length ({n}, {len(prompts)}, {len(labels)})")
        as_rubric = self.config.openrlhf_labels == "rubric"
        requests = [
            RewardRequest(
                prompt=prompt,
                response=split_query(query, prompt, self.config.strip_tokens),
                rubric=self.resolved(label if as_rubric else None, single=False),
                reference=None if as_rubric or label is None else str(label),
            )
            for query, prompt, label in zip(parsed.query, prompts, labels)
        ]
        rewards = await self.rewards_for(requests, held)
        values = [r.value if r.value is not None else self.config.unscored_reward for r in rewards]
        return JSONResponse(
            {
                "rewards": values,
                "scores": [min(1.0, max(0.0, v)) for v in values],
                "extra_logs": {"rubric_unscored": [float(r.value is None) for r in rewards]},
            }
        )

    async def rewards_for(self, requests: list[RewardRequest], held: Reservation) -> list[Reward]:
        """One request's rewards: sized, held in the budget, judged in the shared batches."""
        self.check_size(requests)
        texts = [(len(r.response) + len(str(r.prompt)) + len(r.reference or ""), r.rubric) for r in requests]
        with over_budget_as_answer():
            held.grow_to(request_bytes(held.size, texts))
        client = object()  # this request's code checks take their own turns at the check workers
        rewards = list(await asyncio.gather(*(self.batcher.submit(replace(r, client=client)) for r in requests)))
        rows = [(q.prompt, q.response, r.rubric, r) for q, r in zip(requests, rewards)]
        self.metrics.count(rewards, await asyncio.to_thread(batch_signs, rows))  # linear in the text: off the loop
        return rewards

    def resolved(self, rubric: Any, single: bool) -> Any:
        """The rubric as a Rubric, so its size is known; in a batch a bad one stays as it is
        and fails its own row in the scorer."""
        try:
            return self.scorer.resolve(rubric)
        except RubricError as e:
            if single:
                raise ApiError(422, f"rubric: {e}") from None
            return rubric

    def check_size(self, requests: list[RewardRequest]) -> None:
        config = self.config
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
