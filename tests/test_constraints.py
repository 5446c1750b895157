"""Constraint checkers and the extractor, one family at a time, from the instruction wording;
the engine deciding them in code; the ACE-RL generator and its CLI."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from judge.backends.fake import FakeBackend
from judge.checks.constraints import TYPES, check_constraint, describe
from judge.checks.text import count_characters, split_sentences
from judge.engine import Judge
from judge.generate.constraint_extraction import extract
from judge.generate.constraint_task import task_request
from judge.hardening.surface import on_surface, surface_only
from judge.generate.constraints import (
    ConstraintGenerator,
    ConstraintSettings,
    Instruction,
    checked_criteria,
    load_instructions,
)
from rubrics.model import Rubric
from tests.conftest import ROOT, third_party

# (instruction wording, the spec it states, a response that meets it, one that does not)
FAMILIES = [
    ("Do not use any commas in your response.", {"type": "punctuation:no_comma"}, "No commas here.", "One, two."),
    (
        "Answer with at least 5 words.",
        {"type": "length_constraints:number_words", "relation": "at least", "num_words": 5},
        "one two three four five",
        "one two three",
    ),
    (
        "Answer with at most 3 words.",
        {"type": "length_constraints:number_words", "relation": "at most", "num_words": 3},
        "one two three",
        "one two three four",
    ),
    (
        "Your response should contain less than 3 sentences.",
        {"type": "length_constraints:number_sentences", "relation": "less than", "num_sentences": 3},
        "One. Two.",
        "One. Two. Three.",
    ),
    (
        "Write exactly 2 paragraphs. Separate paragraphs with the markdown divider: ***",
        {"type": "length_constraints:number_paragraphs", "num_paragraphs": 2},
        "First part.\n***\nSecond part.",
        "Only one part.",
    ),
    (
        'Write exactly 2 paragraphs separated by two new lines. Paragraph 2 must start with the word "finally".',
        {
            "type": "length_constraints:nth_paragraph_first_word",
            "num_paragraphs": 2,
            "nth_paragraph": 2,
            "first_word": "finally",
        },
        "Intro here.\n\nFinally, the end.",
        "Intro here.\n\nAt last, the end.",
    ),
    (
        'Include the keywords "river" and "stone".',
        {"type": "keywords:existence", "keywords": ["river"]},
        "The River ran past.",
        "The lake was still.",
    ),
    (
        "Do not include the words 'bad' or 'ugly' in the response.",
        {"type": "keywords:forbidden_words", "forbidden_words": ["bad", "ugly"]},
        "A badge and a fine day.",
        "That was bad.",
    ),
    (
        "The word cat should appear at least 2 times.",
        {"type": "keywords:frequency", "keyword": "cat", "relation": "at least", "frequency": 2},
        "A cat met two cats.",
        "A cat and a category.",
    ),
    (
        "Make sure the letter q appears at least 2 times.",
        {"type": "keywords:letter_frequency", "letter": "q", "let_relation": "at least", "let_frequency": 2},
        "Quiet quest.",
        "Quiet rest.",
    ),
    (
        "Your entire response should be in English, and in all lowercase letters.",
        {"type": "change_case:english_lowercase"},
        "this is a calm reply written in english for you.",
        "This Is Not Lowercase at all, friend.",
    ),
    (
        "Your entire response should be in English, and in all capital letters.",
        {"type": "change_case:english_capital"},
        "THIS IS A LOUD REPLY WRITTEN IN ENGLISH FOR YOU.",
        "This is not loud at all.",
    ),
    (
        "Words with all capital letters should appear at least 2 times.",
        {"type": "change_case:capital_word_frequency", "capital_relation": "at least", "capital_frequency": 2},
        "This is VERY IMPORTANT.",
        "This is Important.",
    ),
    (
        "Please respond only in German, no other language is allowed.",
        {"type": "language:response_language", "language": "de"},
        "Das ist eine kurze Antwort auf Deutsch, und sie ist klar.",
        "This is a short answer in English, and it is clear.",
    ),
    (
        "Wrap your entire output in JSON format.",
        {"type": "detectable_format:json_format"},
        '```json\n{"a": 1}\n```',
        "a: 1",
    ),
    (
        "Your answer must contain a title, wrapped in double angular brackets, such as <<poem of joy>>.",
        {"type": "detectable_format:title"},
        "<<Morning>>\nText.",
        "Morning\nText.",
    ),
    (
        "Your answer must contain exactly 2 bullet points. Use markdown bullet points such as: * This is point 1",
        {"type": "detectable_format:number_bullet_lists", "num_bullets": 2},
        "* one\n* two",
        "* one\n* two\n- three",
    ),
    (
        "Highlight at least 2 sections in your answer with markdown, i.e. *highlighted section*.",
        {"type": "detectable_format:number_highlighted_sections", "num_highlights": 2},
        "*one* and **two**",
        "*one* only",
    ),
    (
        "Your response must have 2 sections. Mark the beginning of each section with SECTION X.",
        {"type": "detectable_format:multiple_sections", "num_sections": 2, "section_spliter": "SECTION"},
        "SECTION 1\na\nSECTION 2\nb",
        "SECTION 1\na",
    ),
    (
        "The response must contain at least 2 placeholders represented by square brackets, such as [address].",
        {"type": "detectable_content:number_placeholders", "num_placeholders": 2},
        "Dear [name] at [address]",
        "Dear [name]",
    ),
    (
        "At the end of your response, please explicitly add a postscript starting with P.S.",
        {"type": "detectable_content:postscript", "postscript_marker": "P.S."},
        "Hello.\n\nP.S. See you.",
        "Hello. See you.",
    ),
    (
        'Answer with one of the following options: "My answer is yes.", "My answer is no.", "My answer is maybe."',
        {"type": "detectable_format:constrained_response"},
        "My answer is no.",
        "No.",
    ),
    (
        "Give two different responses. Separate the responses with 6 asterisk symbols: ******.",
        {"type": "combination:two_responses"},
        "First.\n******\nSecond.",
        "First.\n******\nFirst.",
    ),
    (
        'Start your response with "Dear team".',
        {"type": "startend:start_checker", "start_phrase": "Dear team"},
        "Dear team, hi.",
        "Hi team.",
    ),
    (
        'Finish your response with this exact phrase "Any other questions?". No other words should follow this phrase.',
        {"type": "startend:end_checker", "end_phrase": "Any other questions?"},
        "Done. Any other questions?",
        "Any other questions? Bye.",
    ),
    (
        "Wrap your entire response with double quotation marks.",
        {"type": "startend:quotation"},
        '"Quoted."',
        'Not "quoted".',
    ),
]


@pytest.mark.parametrize("wording, spec, good, bad", FAMILIES, ids=[f[1]["type"] for f in FAMILIES])
def test_each_family_is_extracted_from_its_wording_and_checked(wording, spec, good, bad):
    found = extract(wording).specs
    assert spec in found, found
    assert check_constraint(good, None, spec).met is True, check_constraint(good, None, spec).reason
    assert check_constraint(bad, None, spec).met is False, check_constraint(bad, None, spec).reason
    assert describe(spec).startswith("The ")


def test_every_type_has_a_test_family():
    tested = {f[1]["type"] for f in FAMILIES} | {
        "combination:repeat_prompt",
        "change_case:lowercase",
        "change_case:capital",
        "length_constraints:number_characters",
    }
    assert tested >= set(TYPES)


def test_relations_and_ranges():
    assert {"type": "length_constraints:number_words", "relation": "at least", "num_words": 100} in extract(
        "Answer in 100 to 120 words."
    ).specs
    assert {"type": "length_constraints:number_words", "relation": "at most", "num_words": 120} in extract(
        "Answer in 100 to 120 words."
    ).specs
    assert extract("Write a 300+ word essay.").specs == [
        {"type": "length_constraints:number_words", "relation": "at least", "num_words": 300}
    ]
    assert extract("Keep it 100 words or less.").specs == [
        {"type": "length_constraints:number_words", "relation": "at most", "num_words": 100}
    ]
    assert extract("Use fewer than ten sentences.").specs == [
        {"type": "length_constraints:number_sentences", "relation": "less than", "num_sentences": 10}
    ]
    assert extract("Use the word fiesta at least twice.").specs == [
        {"type": "keywords:frequency", "keyword": "fiesta", "relation": "at least", "frequency": 2}
    ]
    # a capital-word count is not a length
    assert extract("Include at least 3 words in all capital letters.").types() == {"change_case:capital_word_frequency"}


def test_repeat_prompt_takes_the_request_above_or_below():
    above = extract(
        "Write a haiku about rain.\nFirst repeat the request word for word without change, then give your answer."
    )
    assert {"type": "combination:repeat_prompt", "prompt_to_repeat": "Write a haiku about rain."} in above.specs
    below = extract(
        "First repeat the request below word for word, then answer. Do not say anything before it.\n\nWrite a haiku about rain."
    )
    assert {"type": "combination:repeat_prompt", "prompt_to_repeat": "Write a haiku about rain."} in below.specs
    spec = {"type": "combination:repeat_prompt", "prompt_to_repeat": "Write a haiku about rain."}
    assert check_constraint("write a haiku about rain. Drops fall.", None, spec).met
    assert not check_constraint("Drops fall.", None, spec).met


def test_chinese_length_counts_characters():
    assert count_characters("你好世界 ok 2024") == 6
    specs = extract("请写一篇文章，字数要求在2000～2500字之间。").specs
    assert {"type": "length_constraints:number_characters", "relation": "at least", "num_characters": 2000} in specs
    assert {"type": "length_constraints:number_characters", "relation": "at most", "num_characters": 2500} in specs
    assert extract("总字数不少于2000字。").specs == [
        {"type": "length_constraints:number_characters", "relation": "at least", "num_characters": 2000}
    ]


def test_sentences_ignore_abbreviations_list_numbers_and_verse_lines():
    assert split_sentences("Dr. Smith met J. K. Rowling at 3 p.m. today! Really?") == [
        "Dr. Smith met J. K. Rowling at 3 p.m. today!",
        "Really?",
    ]
    assert len(split_sentences("1. First point.\n2. Second point.")) == 2
    assert len(split_sentences("Roses are red\nviolets are blue.")) == 1


def test_unparseable_constraints_are_recorded_not_dropped():
    found = extract("Write a story about a dog. The story must feel hopeful and should avoid clichés about loyalty.")
    assert found.specs == []
    assert found.unparsed == ["The story must feel hopeful and should avoid clichés about loyalty."]


def test_unusable_specs_are_unscored_with_a_reason():
    assert check_constraint("x", None, {"type": "length_constraints:number_words", "num_words": 3}).met is None
    outcome = check_constraint(
        "x", None, {"type": "length_constraints:number_words", "relation": "roughly", "num_words": 3}
    )
    assert outcome.met is None and "unknown relation" in outcome.reason
    assert (
        check_constraint(
            "x", None, {"type": "keywords:frequency", "keyword": "a", "relation": "at least", "frequency": "many"}
        ).met
        is None
    )


def test_the_engine_checks_constraints_in_code_and_asks_the_model_the_rest():
    asked: list[str] = []

    def p_yes(question):
        asked.append(question.messages[-1]["content"])
        return 0.8

    rubric = Rubric.model_validate(
        {
            "id": "hybrid",
            "criteria": [
                {
                    "id": "words",
                    "text": "At least 5 words.",
                    "kind": "constraint",
                    "weight": 2,
                    "check": {"type": "length_constraints:number_words", "relation": "at least", "num_words": 5},
                },
                {"id": "commas", "text": "No commas.", "kind": "constraint", "check": {"type": "punctuation:no_comma"}},
                {"id": "tone", "text": "The response is friendly.", "kind": "constraint"},
            ],
        }
    )
    judge = Judge(FakeBackend(p_yes))
    verdict = asyncio.run(judge.aevaluate("Say hi.", "Hi, there.", rubric))
    results = {r.criterion_id: r for r in verdict.results}
    assert results["words"].met is False and "2 words" in results["words"].reason
    assert results["commas"].met is False
    assert results["tone"].p_yes == pytest.approx(0.8)
    assert len(asked) == 1 and "friendly" in asked[0]  # the checked ones never reached the model
    assert verdict.score == pytest.approx((0 * 2 + 0 * 1 + 0.8 * 1) / 4)


def decomposition(constraints):
    return lambda messages: json.dumps({"constraints": constraints})


def test_generator_merges_checks_and_model_constraints_and_drops_restatements():
    backend = FakeBackend(
        text=decomposition(
            [
                {"text": "The response explains why the plan works.", "category": "content", "weight": 3},
                {
                    "text": "The response uses at least 300 words.",
                    "category": "style",
                    "weight": 1,
                },  # already checked in code
            ]
        )
    )
    outcome = asyncio.run(
        ConstraintGenerator(backend, model_label="fake")(
            Instruction("i1", "Write a plan with at least 300 words. Do not use commas.")
        )
    )
    assert outcome.status == "kept"
    by_kind = {c.id: c for c in outcome.rubric.criteria}
    assert {c.check["type"] for c in by_kind.values() if c.check} == {
        "length_constraints:number_words",
        "punctuation:no_comma",
    }
    task, *rest = outcome.rubric.criteria
    assert task.id == "task" and task.kind == "hard_rule" and task.text.endswith("asks: Write a plan.")
    assert task.weight == sum(c.weight for c in rest)  # it dominates the constraints together
    assert [c.text for c in rest if not c.check] == ["The response explains why the plan works."]
    assert outcome.rubric.provenance.params["restating_checks_dropped"] == 1


def test_generator_without_a_usable_model_keeps_checks_and_unparsed_sentences():
    backend = FakeBackend(text=lambda messages: "not json")
    outcome = asyncio.run(
        ConstraintGenerator(backend, ConstraintSettings(reasks=0))(
            Instruction("i2", "Use less than 50 words. The tone must be warm.")
        )
    )
    assert outcome.status == "kept" and "no usable Decomposition" in outcome.reason
    texts = [c.text for c in outcome.rubric.criteria if c.id != "task"]
    assert texts[0] == "The response has less than 50 words."
    assert texts[1].endswith("The tone must be warm.")
    nothing = asyncio.run(
        ConstraintGenerator(None, ConstraintSettings(use_model=False))(Instruction("i3", "Tell me about owls."))
    )
    assert nothing.status == "rejected" and nothing.reason == "no constraint found in the instruction"


def test_instructions_load_from_writingbench_and_bad_records_are_counted(tmp_path):
    from rubrics.records import LoadReport

    report = LoadReport()
    items = load_instructions(third_party("writingbench_length_subset/length_subset.jsonl"), report)
    assert len(items) == 222 and items[0].id == "16"
    bad = tmp_path / "bad.jsonl"
    bad.write_text(
        '{"id": 1, "prompt": "Write."}\nnot json\n{"id": 2}\n{"id": 1, "prompt": "again"}\n', encoding="utf-8"
    )
    report = LoadReport()
    assert [i.id for i in load_instructions(bad, report)] == ["1"]
    assert dict(report.skipped) == {
        "not JSON": 1,
        "missing field instruction / prompt / query / question": 1,
        "duplicate id": 1,
    }


def test_cli_constraints_extract_only_on_ifeval_prompts(tmp_path):
    rows = [
        json.loads(line) for line in third_party("ifeval/input_data.jsonl").read_text(encoding="utf-8").splitlines()[:5]
    ]
    source = tmp_path / "instructions.jsonl"
    source.write_text(
        "".join(json.dumps({"id": r["key"], "prompt": r["prompt"]}) + "\n" for r in rows), encoding="utf-8"
    )
    out = tmp_path / "rubrics.jsonl"
    run = subprocess.run(
        [
            sys.executable,
            str(ROOT / "cli.py"),
            "generate",
            "--method",
            "constraints",
            "--extract-only",
            "--input",
            str(source),
            "--output",
            str(out),
            "--quiet",
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert run.returncode == 0, run.stderr
    rubrics = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(rubrics) == 5 and "constraints checked in code" in run.stdout
    first = rubrics[0]["criteria"]
    assert {c["check"]["type"] for c in first if c.get("check")} == set(rows[0]["instruction_id_list"])


# -- the task criterion: a constraint rubric must not be met without doing the task -----------------
@pytest.mark.parametrize(
    ("instruction", "task"),
    [
        ('Write an article about tea that ends with "Is there anything else?"', "Write an article about tea."),
        (
            'Write a 300+ word summary of the page "Raymond III". Do not use any commas and highlight at least '
            "3 sections that has titles in markdown format.",
            'Write a summary of the page "Raymond III".',
        ),
        ("Write a poem about the sea. Leave out every comma.", "Write a poem about the sea."),
        ("Wrap your entire response with double quotation marks. Give me three fruits.", "Give me three fruits."),
        ("You are a chef. Write a soup recipe in exactly 4 bullet points.", "You are a chef. Write a soup recipe."),
        ("Answer with at most 50 words.", "Answer with at most 50 words."),  # nothing else: kept whole
    ],
)
def test_the_task_is_the_request_without_what_only_constrains_its_form(instruction, task):
    assert task_request(instruction) == task


def test_constraint_rubrics_carry_the_task_criterion_as_a_gate_or_a_weight():
    """Before: 'write an article that ends with X' became one end-phrase criterion, met by the
    phrase alone. Now the rubric asks whether the response does the task too."""
    instruction = Instruction("tea", 'Write an article about tea that ends with "Is there anything else?"')
    for mode, kind in (("gate", "hard_rule"), ("weight", "principle")):
        rubric = asyncio.run(
            ConstraintGenerator(None, ConstraintSettings(use_model=False, task=mode))(instruction)
        ).rubric
        task, end = rubric.criteria
        assert task.id == "task" and task.kind == kind and "Write an article about tea." in task.text
        assert end.check["type"] == "startend:end_checker" and task.weight >= end.weight
        assert not surface_only(rubric) and not on_surface(task)  # the request it quotes is not its surface
    rubric = asyncio.run(
        ConstraintGenerator(None, ConstraintSettings(use_model=False, task="none"))(instruction)
    ).rubric
    assert [c.id for c in rubric.criteria] == ["check-end_checker-is-there-anything-else"] and surface_only(rubric)


def test_generated_check_ids_come_from_kind_and_arguments_not_position():
    """Before: ``check-1-existence`` meant a different word in every rubric, so a calibration keyed
    by id met the wrong criterion (37% of the GRPO recipe's training criteria met their own map)."""
    first = checked_criteria(
        [{"type": "keywords:existence", "keywords": ["lantern"]}, {"type": "punctuation:no_comma"}]
    )
    second = checked_criteria([{"type": "punctuation:no_comma"}, {"type": "keywords:existence", "keywords": ["kite"]}])
    assert [c.id for c in first] == ["check-existence-lantern", "check-no_comma"]
    assert [c.id for c in second] == ["check-no_comma", "check-existence-kite"]
    counts = checked_criteria([{"type": "length_constraints:number_words", "relation": "at least", "num_words": 300}])
    assert counts[0].id == "check-number_words-at-least-300"
    long = checked_criteria([{"type": "startend:end_checker", "end_phrase": "x " * 80}])[0].id
    assert len(long) <= 60


@pytest.mark.parametrize(
    ("sentence", "spec"),
    [
        ("Leave out every comma.", {"type": "punctuation:no_comma"}),
        ("Make sure the word lantern appears.", {"type": "keywords:existence", "keywords": ["lantern"]}),
        ('The word "kite" should appear in your answer.', {"type": "keywords:existence", "keywords": ["kite"]}),
        ("Never write the word blue.", {"type": "keywords:forbidden_words", "forbidden_words": ["blue"]}),
    ],
)
def test_phrasings_the_extractor_missed(sentence, spec):
    assert extract(f"Write a story. {sentence}").specs == [spec]
