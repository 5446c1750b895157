"""Preference data -> ranked responses per prompt, whatever the file layout.

The layouts read are listed in ``LAYOUTS_HELP`` (what `rubric generate --help` and `rubric
eval --help` show). One record per line in .jsonl/.jsonl.gz, or a JSON list in .json. A
JudgeBench record's ``source`` becomes the pair's source, for per-source breakdowns;
PandaLM's majority of three annotators decides (0 tie, 1, 2; a split vote is skipped, and
so is a tie when ranking); HH-RLHF's prompt is the shared dialogue up to the last
assistant turn. Field names are read case-insensitively (layouts that differ only in case
are one layout). Records that cannot make a pair are skipped with a counted reason, never
a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rubrics.records import LoadReport, Skip, load_records

LAYOUTS_HELP = """\
preference pairs, layout detected per record:
  ours     {"id", "prompt", "chosen", "rejected"}  or  {"id", "prompt", "responses": [best, ..., worst]}
           or {"id", "prompt", "response_a", "response_b", "label": "A"|"B"|"tie", "criteria"?}
  LLMBar   {"input", "output_1", "output_2", "label": 1|2}
  JudgeBench {"pair_id", "question", "response_A", "response_B", "label": "A>B"|"B>A", "source"}
  PandaLM  {"instruction", "input", "response1", "response2", "annotator1".."annotator3"} (majority; ties skipped)
  HH-RLHF  {"chosen", "rejected"} dialogues (the prompt is the shared dialogue before the last answer)
Records that make no pair (identical or empty responses, missing fields, labels out of range)
are skipped and counted.
"""


@dataclass(frozen=True)
class PreferencePair:
    id: str
    prompt: str
    responses: tuple[str, ...]  # best first

    @property
    def chosen(self) -> str:
        return self.responses[0]

    @property
    def rejected(self) -> str:
        return self.responses[-1]


def _text(record: dict[str, Any], key: str) -> str:
    value = record.get(key)
    if value is None:
        raise Skip(f"missing field {key!r}")
    if not isinstance(value, str):
        raise Skip(f"field {key!r} is not text")
    if not value.strip():
        raise Skip("empty response" if key != "prompt" else "empty prompt")
    return value


def _prompt(record: dict[str, Any], key: str) -> Any:
    """A prompt: text, or a non-empty list of {role, content} chat messages."""
    value = record.get(key)
    if (
        isinstance(value, list)
        and value
        and all(
            isinstance(m, dict) and isinstance(m.get("role"), str) and isinstance(m.get("content"), str) for m in value
        )
    ):
        return value
    return _text(record, key)


def split_dialogue(dialogue: str) -> tuple[str, str]:
    marker = "\n\nAssistant:"
    cut = dialogue.rfind(marker)
    if cut < 0:
        raise Skip("dialogue without an assistant turn")
    return dialogue[:cut].strip(), dialogue[cut + len(marker) :].strip()


@dataclass(frozen=True)
class LabelledPair:
    """Two responses in the file's order and which is better: "A", "B" or "tie"."""

    id: str
    prompt: str | list[dict[str, str]]
    response_a: str
    response_b: str
    label: str | None  # None: unlabelled (only where labels are optional)
    source: str = ""
    criteria: tuple[str, ...] = ()  # extra criteria for the pairwise judge, if the record has them


LABELS = {"a": "A", "b": "B", "1": "A", "2": "B", "tie": "tie", "0": "tie", "a>b": "A", "b>a": "B", "a=b": "tie"}


def _lower_keys(record: dict[str, Any]) -> dict[str, Any]:
    lowered: dict[str, Any] = {}
    for key, value in record.items():
        lowered.setdefault(key.lower() if isinstance(key, str) else key, value)
    return lowered


UNLABELLED = -1  # _read's "better" for a record without a label, where labels are optional


def _read(record: Any, default_id: str, require_label: bool = True) -> tuple[str, str, list[str], int | None]:
    """(id, prompt, responses in file order, index of the better one, None for a tie, or
    UNLABELLED)."""
    if isinstance(record, Skip):
        raise record
    if not isinstance(record, dict):
        raise Skip("record is not an object")
    record = _lower_keys(record)
    raw_id = next((record[k] for k in ("id", "pair_id", "idx") if record.get(k) is not None), default_id)
    if isinstance(raw_id, (dict, list, bool)):
        raise Skip("'id' is not a string or a number")
    pair_id = str(raw_id)
    better: int | None = 0
    if "responses" in record:
        responses = record["responses"]
        if not isinstance(responses, list) or len(responses) < 2 or not all(isinstance(r, str) for r in responses):
            raise Skip("'responses' is not a list of two or more texts")
        if not all(r.strip() for r in responses):
            raise Skip("empty response")
        prompt = _text(record, "prompt")
    elif "output_1" in record or "response_a" in record:  # LLMBar, JudgeBench, or ours
        first_key, second_key = ("output_1", "output_2") if "output_1" in record else ("response_a", "response_b")
        prompt_key = next((k for k in ("prompt", "input", "question") if k in record), "prompt")
        prompt = _prompt(record, prompt_key)
        responses = [_text(record, first_key), _text(record, second_key)]
        if record.get("label") is None and not require_label:
            better = UNLABELLED
        else:
            label = LABELS.get(str(record.get("label")).strip().lower())
            if label is None:
                raise Skip("label out of range" if record.get("label") is not None else "missing label")
            better = {"A": 0, "B": 1, "tie": None}[label]
    elif "response1" in record:  # PandaLM
        votes = Counter(str(record.get(f"annotator{i}")) for i in (1, 2, 3))
        if not set(votes) <= {"0", "1", "2"}:
            raise Skip("label out of range")
        label, count = votes.most_common(1)[0]
        if count < 2:
            raise Skip("split vote")
        responses = [_text(record, "response1"), _text(record, "response2")]
        instruction = _text(record, "instruction")
        prompt = instruction + (
            f"\n\n{record['input']}" if isinstance(record.get("input"), str) and record["input"].strip() else ""
        )
        better = {"1": 0, "2": 1, "0": None}[label]
    elif "chosen" in record and "prompt" not in record:  # HH-RLHF dialogues
        chosen_prompt, chosen = split_dialogue(_text(record, "chosen"))
        rejected_prompt, rejected = split_dialogue(_text(record, "rejected"))
        if chosen_prompt != rejected_prompt:
            raise Skip("chosen and rejected dialogues differ before the last turn")
        if not chosen or not rejected:
            raise Skip("empty response")
        prompt, responses = chosen_prompt, [chosen, rejected]
    elif "chosen" in record:
        prompt, responses = _text(record, "prompt"), [_text(record, "chosen"), _text(record, "rejected")]
    else:
        raise Skip(
            "unknown layout (no chosen/rejected, responses, output_1/output_2, response_a/response_b or response1/response2)"
        )
    if len({r.strip() for r in responses}) < len(responses):
        raise Skip("identical responses")
    return pair_id, prompt, responses, better


def _pair(record: Any, default_id: str) -> PreferencePair:
    pair_id, prompt, responses, better = _read(record, default_id)
    if better is None:
        raise Skip("label is a tie")
    ranked = [responses[better], *(r for i, r in enumerate(responses) if i != better)]
    return PreferencePair(pair_id, prompt, tuple(ranked))


def _labelled(record: Any, default_id: str, source: str, require_label: bool = True) -> LabelledPair:
    pair_id, prompt, responses, better = _read(record, default_id, require_label)
    if len(responses) != 2:
        raise Skip("more than two responses")
    fields = _lower_keys(record)
    criteria = fields.get("criteria") or []
    if not isinstance(criteria, list) or not all(isinstance(c, str) for c in criteria):
        raise Skip("'criteria' is not a list of texts")
    own_source = fields.get("source")
    label = {0: "A", 1: "B", None: "tie", UNLABELLED: None}[better]
    return LabelledPair(
        pair_id,
        prompt,
        responses[0],
        responses[1],
        label,
        own_source if isinstance(own_source, str) and own_source else source,
        tuple(criteria),
    )


def load_labelled_pairs(
    path: str | Path, report: LoadReport | None = None, source: str | None = None, *, require_label: bool = True
) -> Iterator[LabelledPair]:
    """Two-response records with their label (ties kept as "tie"), in the file's A/B order;
    with ``require_label=False`` a record without a label comes with label None."""
    name = source or Path(path).stem
    return load_records(path, report, lambda record, default_id: _labelled(record, default_id, name, require_label))


def load_pairs(path: str | Path, report: LoadReport | None = None) -> Iterator[PreferencePair]:
    """The file's preference pairs, best response first; skipped records (ties too) are counted in ``report``."""
    return load_records(path, report, _pair)
