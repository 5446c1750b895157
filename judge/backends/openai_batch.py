"""OpenAI's Batch API for the OpenAI backend (``rubric judge --batch``): the request lines are
the same chat-completions bodies the synchronous path sends (logprobs, or a forced call of
the verdict tool for models without them), uploaded as one file; the answers come back as
an output file and an error file of JSONL lines keyed by custom id."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from openai.types.chat import ChatCompletion

from judge.backends.api import STRUCTURED_INSTRUCTION, YesNoVerdict, with_instruction
from judge.backends.base import Message, YesNoScore
from judge.backends.batch_jobs import JobStatus
from judge.backends.logprobs import first_token_alternatives, score_top_logprobs

ENDPOINT = "/v1/chat/completions"
STATES = {
    "validating": "running",
    "in_progress": "running",
    "finalizing": "running",
    "cancelling": "running",
    "completed": "ended",
    "expired": "expired",
    "cancelled": "cancelled",
    "failed": "failed",
}
VERDICT_FUNCTION = {
    "type": "function",
    "function": {
        "name": YesNoVerdict.__name__,
        "description": "Your verdict on whether the response meets the criterion.",
        "parameters": YesNoVerdict.model_json_schema(),
    },
}


class OpenAIBatches:
    """Mixed into OpenAIBackend: what the batch runner (judge/runs/provider_jobs.py) calls."""

    def batch_line(self, custom_id: str, messages: Sequence[Message]) -> dict[str, Any]:
        if self.mode == "logprobs":  # type: ignore[attr-defined]
            body = self.logprobs_body(list(messages))  # type: ignore[attr-defined]
        else:
            temperature = 0.0 if self.samples == 1 else self.options.sample_temperature  # type: ignore[attr-defined]
            body = self._body(
                with_instruction(messages, STRUCTURED_INSTRUCTION),
                400,
                temperature,
                tools=[VERDICT_FUNCTION],  # type: ignore[attr-defined]
                tool_choice={"type": "function", "function": {"name": YesNoVerdict.__name__}},
            )
        return {"custom_id": custom_id, "method": "POST", "url": ENDPOINT, "body": body}

    async def batch_submit(self, lines: list[dict[str, Any]]) -> str:
        client = await self.raw_client()  # type: ignore[attr-defined]
        data = "".join(json.dumps(line) + "\n" for line in lines).encode()
        upload = await client.files.create(
            file=("rubric-judge-requests.jsonl", data, "application/jsonl"), purpose="batch"
        )
        batch = await client.batches.create(
            input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h", metadata={"made_by": "rubric-judge"}
        )
        return batch.id

    async def batch_poll(self, job_id: str) -> JobStatus:
        client = await self.raw_client()  # type: ignore[attr-defined]
        batch = await client.batches.retrieve(job_id)
        counts = batch.request_counts
        total = counts.total if counts else 0
        finished = (counts.completed + counts.failed) if counts else 0
        detail = batch.status
        if batch.status == "failed" and batch.errors and batch.errors.data:
            detail += ": " + "; ".join(f"{e.code}: {e.message}" for e in batch.errors.data)
        return JobStatus(STATES.get(batch.status, "running"), finished, total, detail)  # type: ignore[arg-type]

    async def batch_results(self, job_id: str) -> dict[str, YesNoScore]:
        client = await self.raw_client()  # type: ignore[attr-defined]
        batch = await client.batches.retrieve(job_id)
        answers: dict[str, YesNoScore] = {}
        for file_id in (batch.output_file_id, batch.error_file_id):
            if not file_id:
                continue
            text = (await client.files.content(file_id)).text
            for line in text.splitlines():
                if line.strip():
                    entry = json.loads(line)
                    answers[entry["custom_id"]] = self._read_line(entry)
        return answers

    def _read_line(self, entry: dict[str, Any]) -> YesNoScore:
        response = entry.get("response") or {}
        error = entry.get("error") or (response.get("body") or {}).get("error")
        if error or response.get("status_code") != 200:
            error = error or {}
            return YesNoScore(
                None,
                reason=f"failed in the batch: {error.get('code') or response.get('status_code')}: {error.get('message', 'no answer')}",
            )
        completion = ChatCompletion.model_validate(response["body"])
        usage = completion.usage
        self.usage.add_batch_tokens(usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None)  # type: ignore[attr-defined]
        if self.mode == "logprobs":  # type: ignore[attr-defined]
            return score_top_logprobs(first_token_alternatives(completion), self.options.top_logprobs)  # type: ignore[attr-defined]
        calls = completion.choices[0].message.tool_calls if completion.choices else None
        if not calls:
            return YesNoScore(None, reason="the batch answer holds no verdict tool call")
        try:
            verdict = YesNoVerdict.model_validate_json(calls[0].function.arguments)
        except ValueError as e:
            return YesNoScore(None, reason=f"invalid verdict in the batch answer: {str(e).splitlines()[0]}")
        return YesNoScore(float(verdict.satisfied), explanation=verdict.reasoning or None)
