"""ACE-RL constraint rubrics: an instruction -> the constraints a response must meet.

Two sources, one rubric:
- the deterministic extractor (rubrics/constraint_extraction.py) finds what code can verify
  (word counts, keywords, JSON, ...); those criteria carry a ``check`` spec, so the judge
  engine decides them in code and never asks a model;
- an LLM decomposes the instruction into explicit and implicit constraints (content,
  structure, style), each a weighted yes/no criterion for the judge model.

Sentences that sound like a constraint but that the extractor could not parse are recorded
in the provenance; with no model (or when the model fails) each becomes a criterion
verbatim, so a judge model still decides it.

Constraints alone can be met without doing the task, so every rubric also carries the task
criterion (constraint_task.py): does the response do what the request asks, its form aside?
By default a hard rule whose weight is the constraints' together (``task="gate"``);
``"weight"`` makes it a principle of that weight, ``"none"`` leaves it out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, Field

from judge.backends.base import Backend, GenerationError
from judge.backends.structured import at_most, with_bounds
from judge.checks.constraints import describe
from judge.generate.constraint_extraction import extract
from judge.generate.constraint_task import task_criterion
from judge.generate.run import ItemOutcome, generate_structured, render
from rubrics.model import Criterion, Provenance, Rubric, id_safe
from rubrics.records import LoadReport, load_records, text_record

INSTRUCTION_FIELDS = ("instruction", "prompt", "query", "question")


@dataclass(frozen=True)
class Instruction:
    id: str
    text: str


def _instruction(record: Any, default_id: str) -> Instruction:
    return Instruction(*text_record(record, default_id, INSTRUCTION_FIELDS, ("id", "key", "index"), "instruction"))


def load_instructions(path: str | Path, report: LoadReport | None = None) -> list[Instruction]:
    """Instructions from JSONL/JSON records with an instruction, prompt, query or question
    field (id from id, key or index)."""
    if report is not None:
        report.unit = "instructions"
    return list(load_records(path, report, _instruction))


class DecomposedConstraint(BaseModel):
    text: str = Field(min_length=1, json_schema_extra={"maxLength": 300})
    category: Literal["content", "structure", "style"] = "content"
    weight: float = Field(1.0, ge=1, le=3)


class Decomposition(BaseModel):
    constraints: list[DecomposedConstraint] = at_most(12)


TaskMode = Literal["gate", "weight", "none"]


@dataclass
class ConstraintSettings:
    max_constraints: int = 8
    reasks: int = 2
    use_model: bool = True  # False: the extractor only (unparsed sentences become criteria verbatim)
    task: TaskMode = "gate"  # the task criterion: a hard rule, a weighted principle, or none


def spec_id(spec: dict[str, Any]) -> str:
    """A checked criterion's id from its kind and arguments (``check-existence-lantern``,
    ``check-number_words-at-least-300``): the same constraint has the same id in every rubric,
    so a calibration fitted on one rubric's criteria applies to another's, never by position."""
    values = []
    for key, value in spec.items():
        if key != "type":
            values += value if isinstance(value, list) else [value]
    words = "-".join(str(v) for v in values).casefold()
    text = id_safe(f"check-{spec['type'].split(':')[-1]}" + (f"-{words}" if words else ""))
    if len(text) > 60:  # a long phrase: cut, and told apart by a digest of the whole
        text = f"{text[:48].rstrip('-.')}-{hashlib.sha1(text.encode()).hexdigest()[:8]}"
    return text


def checked_criteria(specs: list[dict[str, Any]]) -> list[Criterion]:
    """One criterion per extracted spec; the engine checks it in code."""
    criteria, seen = [], set()
    for spec in specs:
        criterion_id = spec_id(spec)
        while criterion_id in seen:  # the same kind twice with arguments that read alike
            criterion_id += "-2"
        seen.add(criterion_id)
        criteria.append(
            Criterion(
                id=criterion_id,
                text=describe(spec),
                kind="constraint",
                weight=2.0,
                tags=["checked-in-code", spec["type"]],
                check=spec,
            )
        )
    return criteria


def verbatim_criteria(sentences: list[str]) -> list[Criterion]:
    return [
        Criterion(
            id=f"stated-{number}",
            text=f"The response follows this part of the instruction: {sentence}",
            kind="constraint",
            tags=["unparsed"],
        )
        for number, sentence in enumerate(sentences, 1)
    ]


def restates_checked(text: str, checked_types: set[str]) -> bool:
    """A model-written constraint that says what a code check already covers."""
    return bool(extract(text).types() & checked_types)


@dataclass
class ConstraintGenerator:
    """``await generator(instruction) -> ItemOutcome`` (the shared generation log's record)."""

    backend: Backend | None
    settings: ConstraintSettings = field(default_factory=ConstraintSettings)
    model_label: str = "none"

    async def decompose(self, instruction: Instruction, checked: list[Criterion]) -> list[DecomposedConstraint]:
        assert self.backend is not None
        messages = render(
            "constraint_decompose",
            instruction=instruction.text,
            checked=[c.text for c in checked],
            max_constraints=self.settings.max_constraints,
        )
        result = await generate_structured(
            self.backend,
            messages,
            with_bounds(Decomposition, constraints=self.settings.max_constraints),
            reasks=self.settings.reasks,
            check=lambda d: None if d.constraints else "the constraint list is empty",
        )
        return result.constraints[: self.settings.max_constraints]

    async def __call__(self, instruction: Instruction) -> ItemOutcome:
        extraction = extract(instruction.text)
        checked = checked_criteria(extraction.specs)
        checked_types = {spec["type"] for spec in extraction.specs}
        criteria, model_error, dropped = list(checked), None, 0
        if self.backend is not None and self.settings.use_model:
            try:
                for number, item in enumerate(await self.decompose(instruction, checked), 1):
                    if restates_checked(item.text, checked_types):
                        dropped += 1
                        continue
                    criteria.append(
                        Criterion(
                            id=f"{item.category}-{number}",
                            text=item.text,
                            kind="constraint",
                            weight=item.weight,
                            tags=[item.category],
                        )
                    )
            except GenerationError as e:
                model_error = str(e)
        if self.backend is None or not self.settings.use_model or model_error:
            criteria += verbatim_criteria(extraction.unparsed)
        if criteria and self.settings.task != "none":  # its weight dominates the constraints'
            weight = max(2.0, sum(c.weight for c in criteria))
            criteria.insert(0, task_criterion(instruction.text, weight, gate=self.settings.task == "gate"))
        params = {
            "checked_in_code": len(checked),
            "families": sorted(checked_types),
            "unparsed": extraction.unparsed,
            "model_constraints": len(criteria) - len(checked) if model_error is None and self.backend else 0,
            "restating_checks_dropped": dropped,
            "model_error": model_error,
            "task": self.settings.task,
        }
        if not criteria:
            status = "failed" if model_error else "rejected"
            return ItemOutcome(
                instruction.id,
                status,
                reason=model_error or "no constraint found in the instruction",
                attempts=[params],
            )
        rubric = Rubric(
            id=f"constraints-{instruction.id}",
            task=instruction.text,
            criteria=criteria,
            provenance=Provenance(
                method="ace-rl-constraints", model=self.model_label, sources=[instruction.id], params=params
            ),
        )
        return ItemOutcome(instruction.id, "kept", rubric, attempts=[params], reason=model_error)
