"""A scripted backend for tests, dry runs and audits: no model, no network."""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import re
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import BaseModel

from judge.backends.base import BackendBase, GenerationError, Message, YesNoQuestion, YesNoScore
from judge.backends.structured import BatchedVerdict, CriterionLabel, GeneratedVerdict, parse_structured

CALLS_KEPT = 1_000


class RecentCalls(list):  # type: ignore[type-arg]
    """A list of the latest CALLS_KEPT questions asked."""

    def extend(self, questions: Any) -> None:
        super().extend(questions)
        if len(self) > CALLS_KEPT:
            del self[:-CALLS_KEPT]


Answer = float | None | YesNoScore
PYesScript = float | Callable[[YesNoQuestion], Answer]
TextScript = str | Callable[[Sequence[Message]], str]


def seeded_p_yes(seed: int) -> Callable[[YesNoQuestion], float]:
    """A P(yes) that looks random but depends only on (seed, question): stable across runs and orders."""

    def script(question: YesNoQuestion) -> float:
        digest = hashlib.sha256(f"{seed}:{json.dumps(question.messages, sort_keys=True)}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64

    return script


def load_script(path: str) -> tuple[Callable[[YesNoQuestion], Answer], Callable[[Sequence[Message]], str]]:
    """A scripted judge from a JSON or YAML file, for end-to-end runs without a model::

        generate: [{match: REGEX, text: "..."}, ...]   # generated text
        p_yes: [{match: REGEX, p_yes: 0.9}, ...]       # P(yes) of yes/no questions
        default_text: ""
        default_p_yes: 0.5

    The first rule whose regex is found in the request (all messages' text) answers.
    """
    import re

    import yaml

    try:
        script = yaml.safe_load(open(path, encoding="utf-8"))
    except (OSError, yaml.YAMLError) as e:
        raise ValueError(f"fake:script:{path}: cannot read the script: {e}") from None
    if not isinstance(script, dict):
        raise ValueError(f"fake:script:{path}: expected a mapping with 'generate' and/or 'p_yes' rules")

    def rules(key: str, value_key: str) -> list[tuple[re.Pattern[str], Any]]:
        entries = script.get(key) or []
        if not isinstance(entries, list) or not all(
            isinstance(e, dict) and "match" in e and value_key in e for e in entries
        ):
            raise ValueError(f"fake:script:{path}: '{key}' must be a list of {{match, {value_key}}} rules")
        return [(re.compile(e["match"], re.DOTALL), e[value_key]) for e in entries]

    generate, p_yes = rules("generate", "text"), rules("p_yes", "p_yes")
    default_text, default_p_yes = str(script.get("default_text", "")), script.get("default_p_yes", 0.5)

    def first(table: list[tuple[re.Pattern[str], Any]], messages: Sequence[Message], default: Any) -> Any:
        text = "\n".join(m["content"] for m in messages)
        return next((value for pattern, value in table if pattern.search(text)), default)

    return (lambda q: first(p_yes, q.messages, default_p_yes)), (
        lambda messages: str(first(generate, messages, default_text))
    )


class FakeBackend(BackendBase):
    name = "fake"
    context_window: int | None = None

    def __init__(self, p_yes: PYesScript = 1.0, text: TextScript = "", *, label: str = "scripted", delay: float = 0.0):
        self.model_id = label
        self._p_yes = p_yes
        self._text = text
        self.delay = delay
        # the questions asked, for tests: the latest CALLS_KEPT (a million-row dry run must not keep them all)
        self.calls = RecentCalls()

    @classmethod
    def from_spec(cls, rest: str, **options: Any) -> FakeBackend:
        """'yes', 'no', 'random' or 'random:SEED'; options: delay (seconds per call)."""
        kind, _, seed = rest.partition(":")
        raw_delay = options.pop("delay", 0.0)
        try:
            delay = float(raw_delay)
        except (TypeError, ValueError):
            delay = math.nan
        if not (math.isfinite(delay) and delay >= 0):
            raise ValueError(f"fake:{rest}: delay must be a number of seconds of at least 0, got {raw_delay!r}")
        if options:
            raise ValueError(f"fake backend takes no options {sorted(options)}")
        if kind == "yes":
            return cls(1.0, "Yes", label="yes", delay=delay)
        if kind == "no":
            return cls(0.0, "No", label="no", delay=delay)
        if kind == "random":
            if not (seed or "0").lstrip("-").isdigit():
                raise ValueError(f"fake:{rest}: the seed of fake:random:SEED must be an integer, got {seed!r}")
            number = int(seed or 0)
            return cls(seeded_p_yes(number), "", label=f"random:{number}", delay=delay)
        if kind == "script":
            p_yes, text = load_script(seed)
            return cls(p_yes, text, label=f"script:{seed}", delay=delay)
        raise ValueError(
            f"unknown fake backend {rest!r}; use fake:yes, fake:no, fake:random[:SEED] or fake:script:FILE"
        )

    def identity(self) -> dict[str, Any]:
        return {"backend": self.name, "model": self.model_id}

    def count_tokens(self, messages: Sequence[Message]) -> int | None:
        return None

    async def p_yes(self, questions: Sequence[YesNoQuestion]) -> list[YesNoScore]:
        if self.delay:
            await asyncio.sleep(self.delay)
        self.calls.extend(questions)
        return [self._score(q) for q in questions]

    def _score(self, question: YesNoQuestion) -> YesNoScore:
        answer = self._p_yes(question) if callable(self._p_yes) else self._p_yes
        if isinstance(answer, YesNoScore):
            return answer
        if answer is None:
            return YesNoScore(None, reason="scripted: no answer")
        return YesNoScore(float(answer))

    async def generate(
        self,
        messages: Sequence[Message],
        *,
        schema: type[BaseModel] | None = None,
        max_tokens: int = 512,
        temperature: float = 0.0,
    ) -> str | BaseModel:
        if self.delay:
            await asyncio.sleep(self.delay)
        text = self._text(messages) if callable(self._text) else self._text
        if schema is None:
            return text
        try:
            return parse_structured(text, schema)
        except GenerationError:
            if schema is GeneratedVerdict:  # the scripted text is no verdict: answer from the P(yes) script
                score = self._score(YesNoQuestion(tuple(messages), "fake-generated"))
                if score.p_yes is None:
                    raise
                return GeneratedVerdict(reasoning=f"scripted: P(yes) {score.p_yes:.2f}", satisfied=score.p_yes >= 0.5)
            if schema is not BatchedVerdict:
                raise
            return self._batched_verdict(messages)

    def _batched_verdict(self, messages: Sequence[Message]) -> BaseModel:
        """A batched request's labels, one per listed criterion, from the P(yes) script: each
        criterion asked as if alone, met at P(yes) >= 0.5 (no answer: no label)."""
        listed = messages[-1]["content"].rpartition("\nCriteria:\n")[2]
        labels = []
        for key, text in re.findall(r"^(c\d+): (.*)$", listed, flags=re.M):
            alone = (*messages[:-1], {"role": "user", "content": f"Criterion: {text}"})
            score = self._score(YesNoQuestion(tuple(alone), "fake-batched"))
            if score.p_yes is not None:
                labels.append(CriterionLabel(id=key, reasoning="scripted", satisfied=score.p_yes >= 0.5))
        return BatchedVerdict(criteria=labels)
