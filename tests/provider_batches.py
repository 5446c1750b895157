"""The batch endpoints of the loopback provider (tests/provider_server.py): OpenAI's Files and
Batch API, Anthropic's Message Batches, as their wire formats have them.

A job stays in progress until its ``polls``-th retrieval (default: the first), then ends; each request in it is answered
by the same scripted model as a synchronous request. ``FAULT:batch-error`` in a question
fails that request inside the job (OpenAI: a line of the error file; Anthropic: an errored
result). ``outcome="expired"`` ends the job expired with only its first half answered;
``outcome="failed"`` fails OpenAI jobs at validation; ``poll_errors=N`` answers the next N
polls with a 500.
"""

from __future__ import annotations

import itertools
import json
import re
import time
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

OPENAI_BATCH = re.compile(r"^/v1/batches/([^/]+)$")
OPENAI_FILE = re.compile(r"^/v1/files/([^/]+)/content$")
ANTHROPIC_BATCH = re.compile(r"^/v1/messages/batches/([^/]+)(/results)?$")


@dataclass
class Job:
    id: str
    kind: str  # "openai" | "anthropic"
    lines: list[dict[str, Any]]
    polls: int = 0
    results: list[dict[str, Any]] | None = None  # worked out when it ends
    files: dict[str, str] = field(default_factory=dict)  # openai: output/error file ids


class BatchDesk:
    """The jobs and files of one server."""

    def __init__(self, polls: int = 1, outcome: str = "completed"):
        self.polls = polls
        self.outcome = outcome
        self.poll_errors = 0  # polls still to answer with a 500
        self.files: dict[str, bytes] = {}
        self.jobs: dict[str, Job] = {}
        self.created = 0  # jobs created: a resumed run must not add one
        self._ids = itertools.count(1)

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{next(self._ids)}"


def handle_post(handler: Any, raw: bytes) -> bool:
    """Serve a batch POST; False when the path is not a batch endpoint."""
    desk: BatchDesk = handler.owner.batches
    path = handler.path.split("?")[0]
    if path == "/v1/files":
        message = BytesParser().parsebytes(
            b"Content-Type: " + handler.headers["content-type"].encode() + b"\r\n\r\n" + raw
        )
        upload = next(
            part for part in message.get_payload() if part.get_param("name", header="content-disposition") == "file"
        )
        file_id = desk.new_id("file")
        desk.files[file_id] = upload.get_payload(decode=True)
        send(
            handler,
            {
                "id": file_id,
                "object": "file",
                "bytes": len(desk.files[file_id]),
                "created_at": int(time.time()),
                "filename": upload.get_filename(),
                "purpose": "batch",
                "status": "processed",
            },
        )
        return True
    if path == "/v1/batches":
        body = json.loads(raw)
        lines = [json.loads(line) for line in desk.files[body["input_file_id"]].decode().splitlines() if line.strip()]
        job = Job(desk.new_id("batch"), "openai", lines)
        desk.jobs[job.id], desk.created = job, desk.created + 1
        send(handler, openai_batch(job, body["input_file_id"], "validating"))
        return True
    if path == "/v1/messages/batches":
        job = Job(desk.new_id("msgbatch"), "anthropic", json.loads(raw)["requests"])
        desk.jobs[job.id], desk.created = job, desk.created + 1
        send(handler, anthropic_batch(handler, job, ended=False))
        return True
    return False


def handle_get(handler: Any) -> bool:
    desk: BatchDesk = handler.owner.batches
    path = handler.path.split("?")[0]
    if path == "/v1/models":  # what vLLM and SGLang list (the loopback serves one scripted model)
        send(handler, {"object": "list", "data": [{"id": "served-judge", "object": "model", "owned_by": "loopback"}]})
        return True
    if desk.poll_errors and (OPENAI_BATCH.match(path) or ANTHROPIC_BATCH.match(path)):
        desk.poll_errors -= 1
        handler._error(500, "The server had an error while processing your request.", "messages" in path, "api_error")
        return True
    if match := OPENAI_BATCH.match(path):
        job = desk.jobs[match.group(1)]
        job.polls += 1
        if job.polls < desk.polls:
            send(handler, openai_batch(job, "file", "in_progress"))
            return True
        if desk.outcome == "failed":
            send(handler, openai_batch(job, "file", "failed"))
            return True
        finish(handler, desk, job)
        send(handler, openai_batch(job, "file", "expired" if desk.outcome == "expired" else "completed"))
        return True
    if match := OPENAI_FILE.match(path):
        handler._send(200, desk.files[match.group(1)], content_type="application/octet-stream")
        return True
    if match := ANTHROPIC_BATCH.match(path):
        job = desk.jobs[match.group(1)]
        if match.group(2):  # the results, as JSONL
            handler._send(
                200,
                "".join(json.dumps(r) + "\n" for r in job.results or []).encode(),
                content_type="application/binary",
            )
            return True
        job.polls += 1
        ended = job.polls >= desk.polls
        if ended:
            finish(handler, desk, job)
        send(handler, anthropic_batch(handler, job, ended=ended))
        return True
    return False


def finish(handler: Any, desk: BatchDesk, job: Job) -> None:
    """Answer every request of the job once (the scripted model), as the provider would."""
    if job.results is not None:
        return
    job.results = []
    cut = len(job.lines) // 2 if desk.outcome == "expired" else len(job.lines)
    for index, line in enumerate(job.lines):
        body = line["body"] if job.kind == "openai" else line["params"]
        question = next((m["content"] for m in body["messages"] if m["role"] == "user"), "")
        question = question if isinstance(question, str) else "".join(b.get("text", "") for b in question)
        if index >= cut:
            job.results.append(expired(job, line))
        elif "FAULT:batch-error" in question:
            job.results.append(errored(job, line))
        elif job.kind == "openai":
            job.results.append(
                {
                    "id": f"req_{index}",
                    "custom_id": line["custom_id"],
                    "error": None,
                    "response": {
                        "status_code": 200,
                        "request_id": f"r{index}",
                        "body": handler._openai_reply(body, question, None, 1),
                    },
                }
            )
        else:
            message = handler._anthropic_reply(body, question, None, 1)
            job.results.append({"custom_id": line["custom_id"], "result": {"type": "succeeded", "message": message}})
    if job.kind == "openai":
        good = [r for r in job.results if (r.get("response") or {}).get("status_code") == 200]
        bad = [r for r in job.results if r not in good]
        for name, rows in (("output", good), ("error", bad)):
            if rows:
                file_id = desk.new_id("file")
                desk.files[file_id] = "".join(json.dumps(r) + "\n" for r in rows).encode()
                job.files[name] = file_id


def expired(job: Job, line: dict[str, Any]) -> dict[str, Any]:
    if job.kind == "anthropic":
        return {"custom_id": line["custom_id"], "result": {"type": "expired"}}
    return {
        "id": "req_x",
        "custom_id": line["custom_id"],
        "response": None,
        "error": {
            "code": "batch_expired",
            "message": "This request could not be executed before the completion window expired.",
        },
    }


def errored(job: Job, line: dict[str, Any]) -> dict[str, Any]:
    if job.kind == "anthropic":
        return {
            "custom_id": line["custom_id"],
            "result": {
                "type": "errored",
                "error": {
                    "type": "error",
                    "error": {"type": "invalid_request_error", "message": "scripted failure inside the batch"},
                },
            },
        }
    return {
        "id": "req_e",
        "custom_id": line["custom_id"],
        "error": None,
        "response": {
            "status_code": 400,
            "request_id": "re",
            "body": {
                "error": {
                    "message": "scripted failure inside the batch",
                    "type": "invalid_request_error",
                    "code": "invalid_request",
                }
            },
        },
    }


def openai_batch(job: Job, input_file: str, status: str) -> dict[str, Any]:
    done = len(job.results or []) if status in ("completed", "expired") else 0
    failed = sum(1 for r in job.results or [] if (r.get("response") or {}).get("status_code") != 200)
    batch = {
        "id": job.id,
        "object": "batch",
        "endpoint": "/v1/chat/completions",
        "input_file_id": input_file,
        "completion_window": "24h",
        "status": status,
        "created_at": int(time.time()),
        "output_file_id": job.files.get("output"),
        "error_file_id": job.files.get("error"),
        "request_counts": {"total": len(job.lines), "completed": done - failed, "failed": failed},
    }
    if status == "failed":
        batch["errors"] = {
            "object": "list",
            "data": [{"code": "invalid_file", "message": "scripted validation failure", "line": 1}],
        }
    return batch


def anthropic_batch(handler: Any, job: Job, ended: bool) -> dict[str, Any]:
    kinds = [r["result"]["type"] for r in job.results or []] if ended else []
    counts = {
        "processing": 0 if ended else len(job.lines),
        "succeeded": kinds.count("succeeded"),
        "errored": kinds.count("errored"),
        "canceled": kinds.count("canceled"),
        "expired": kinds.count("expired"),
    }
    now = "2026-12-02T00:00:00Z"
    return {
        "id": job.id,
        "type": "message_batch",
        "processing_status": "ended" if ended else "in_progress",
        "request_counts": counts,
        "created_at": now,
        "expires_at": "2026-12-03T00:00:00Z",
        "ended_at": now if ended else None,
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{handler.owner.url}/v1/messages/batches/{job.id}/results" if ended else None,
    }


def send(handler: Any, payload: dict[str, Any]) -> None:
    handler._send(200, json.dumps(payload).encode())
