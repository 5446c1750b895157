"""Nugget-as-rubric: corpus loading and BM25 search, the construction pipeline with a scripted
model, verification (model labels, best over chunks, weighted recall), the embedded matcher."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

import pytest

from judge.backends.fake import FakeBackend
from judge.generate.nuggets import (
    NuggetGenerator,
    Question,
)
from rubrics.records import LoadReport
from judge.generate.retrieval import PassageSource, StaticCorpus, chunk
from tests.conftest import ROOT

DOCS = {
    "everest.md": "Mount Everest is 8,849 metres high.\n\nIt lies on the border of Nepal and China.",
    "k2.txt": "K2 is the second-highest mountain on Earth, at 8,611 metres.",
    "rivers.txt": "The Nile is a long river in Africa.",
}


@pytest.fixture
def corpus_dir(tmp_path):
    folder = tmp_path / "corpus"
    folder.mkdir()
    for name, text in DOCS.items():
        (folder / name).write_text(text, encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00 not utf-8 \xc3\x28")
    (folder / "empty.md").write_text("  \n", encoding="utf-8")
    return folder


def test_corpus_loads_chunks_and_reports_unreadable_files(corpus_dir):
    report = LoadReport(unit="documents")
    corpus = StaticCorpus.load(corpus_dir, report, max_words=12)
    assert report.skipped == {"unreadable file (UnicodeDecodeError)": 1, "empty document": 1}
    assert any("broken.txt" in str(p) for p in report.problems)
    assert {p.id.split("#")[0] for p in corpus.passages} == set(DOCS)
    hits = asyncio.run(corpus.search("how high is Everest", 2))
    assert hits[0].id.startswith("everest.md") and "8,849" in hits[0].text
    assert asyncio.run(corpus.search("zebra", 3)) == []
    assert isinstance(corpus, PassageSource)


def test_empty_corpus_and_jsonl_documents(tmp_path):
    (tmp_path / "none").mkdir()
    with pytest.raises(ValueError, match="no readable text"):
        StaticCorpus.load(tmp_path / "none")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(
        '{"id": "d1", "title": "Nile", "text": "The Nile flows north."}\nnot json\n{"id": "d2"}\n', encoding="utf-8"
    )
    report = LoadReport(unit="documents")
    corpus = StaticCorpus.load(docs, report)
    assert [p.id for p in corpus.passages] == ["d1#0"]
    assert report.skipped["not JSON"] == 1 and sum(report.skipped.values()) == 2


def test_chunking_packs_paragraphs_and_splits_long_ones():
    text = "One two three.\n\nFour five.\n\n" + " ".join(f"w{i}." for i in range(25))
    chunks = chunk(text, max_words=10)
    assert chunks[0] == "One two three.\nFour five."
    assert all(len(c.split()) <= 10 for c in chunks) and sum(len(c.split()) for c in chunks) == 30


def scripted_model(nuggets_json: str):
    def text(messages):
        system = messages[0]["content"]
        if "search queries" in system:
            return json.dumps({"queries": ["Everest height", "Everest location"]})
        if "nuggets" in system and any("Passage 1" in m["content"] for m in messages):
            return nuggets_json
        return "{}"

    return FakeBackend(text=text)


def test_generator_builds_cited_merged_weighted_nuggets(corpus_dir):
    corpus = StaticCorpus.load(corpus_dir)
    nuggets = json.dumps(
        {
            "short_form": False,
            "nuggets": [
                {"text": "Mount Everest is 8,849 metres high.", "passage": 1, "importance": "vital"},
                {"text": "mount everest is 8,849 metres high.", "passage": 1, "importance": "okay"},  # a duplicate
                {"text": "Everest lies on the border of Nepal and China.", "passage": 1, "importance": "okay"},
            ],
        }
    )
    generator = NuggetGenerator(scripted_model(nuggets), corpus, model_label="fake")
    outcome = asyncio.run(generator(Question("q1", "How high is Mount Everest and where is it?")))
    assert outcome.status == "kept"
    criteria = outcome.rubric.criteria
    assert [c.weight for c in criteria] == [1.0, 0.5] and all(c.kind == "nugget" for c in criteria)
    assert criteria[0].sources and criteria[0].sources[0].startswith("everest.md")
    params = outcome.rubric.provenance.params
    assert params["queries"][0] == "How high is Mount Everest and where is it?" and params["merged"] == 1


def test_no_passage_means_no_evidence_not_an_invented_nugget(corpus_dir):
    corpus = StaticCorpus.load(corpus_dir)
    generator = NuggetGenerator(FakeBackend(text=lambda m: json.dumps({"queries": ["zebra stripes"]})), corpus)
    outcome = asyncio.run(generator(Question("q2", "Why do zebras have stripes?")))
    assert outcome.status == "rejected" and outcome.reason.startswith("no evidence")
    assert outcome.rubric is None


def test_citing_a_missing_passage_is_asked_again_then_fails(corpus_dir):
    corpus = StaticCorpus.load(corpus_dir)
    bad = json.dumps({"nuggets": [{"text": "Everest is high.", "passage": 9, "importance": "vital"}]})
    generator = NuggetGenerator(scripted_model(bad), corpus)
    generator.settings.reasks = 1
    from judge.backends.base import GenerationError

    with pytest.raises(GenerationError, match="cite passages that do not exist"):
        asyncio.run(generator(Question("q3", "How high is Everest?")))


def test_a_generated_nugget_rubric_is_judged_by_the_engine_like_any_rubric(corpus_dir):
    """Generation builds the rubric; the engine judges it: matched in code, the unsure asked
    in three labels, a weighted score with partial support counting half (tests/test_checks.py)."""
    from judge.engine import Judge

    nuggets = json.dumps(
        {
            "short_form": False,
            "nuggets": [
                {"text": "Mount Everest is 8,849 metres high.", "passage": 1, "importance": "vital"},
                {"text": "Everest lies on the border of Nepal and China.", "passage": 1, "importance": "okay"},
                {"text": "K2 is the second-highest mountain.", "passage": 1, "importance": "okay"},
            ],
        }
    )
    rubric = asyncio.run(
        NuggetGenerator(scripted_model(nuggets), StaticCorpus.load(corpus_dir))(Question("q", "Everest?"))
    ).rubric
    backend = FakeBackend(lambda q: 0.0 if "in full?" in q.messages[-1]["content"] else 1.0)  # partly there
    verdict = Judge(backend).evaluate("Everest?", "Everest is 8,849 metres high, between Nepal and Tibet.", rubric)
    assert [r.label for r in verdict.results] == ["support", "partial_support", "not_support"]
    assert verdict.score == pytest.approx((1.0 + 0.5 * 0.5) / 2.0) and len(backend.calls) == 2
    empty = Judge(backend).evaluate("Everest?", "   ", rubric)  # no content: no nugget is present, no model asked
    assert empty.score == 0.0 and "decided without the judge" in empty.results[0].reason and len(backend.calls) == 2
    failing = Judge(FakeBackend(lambda q: None)).evaluate(
        "Everest?", "Everest is 8,849 metres high, between Nepal and Tibet.", rubric
    )
    assert failing.results[1].status == "unscored" and failing.n_unscored == 1  # unscored, never 0


def test_cli_nuggets_end_to_end(corpus_dir, tmp_path):
    script = tmp_path / "model.yaml"
    script.write_text(
        "generate:\n"
        "  - match: 'zebras'\n"
        '    text: \'{"queries": ["zebra stripes"]}\'\n'
        "  - match: 'search queries'\n"
        '    text: \'{"queries": ["Everest height"]}\'\n'
        "  - match: 'Passage 1'\n"
        '    text: \'{"nuggets": [{"text": "Mount Everest is 8,849 metres high.", "passage": 1, "importance": "vital"}]}\'\n',
        encoding="utf-8",
    )
    questions = tmp_path / "questions.jsonl"
    questions.write_text(
        '{"id": "q1", "question": "How high is Everest?"}\n{"id": "q2", "question": "Why are zebras striped?"}\n',
        encoding="utf-8",
    )
    out = tmp_path / "nuggets.jsonl"
    command = [
        sys.executable,
        str(ROOT / "cli.py"),
        "generate",
        "--method",
        "nuggets",
        "--input",
        str(questions),
        "--corpus",
        str(corpus_dir),
        "--output",
        str(out),
        "--model",
        f"fake:script:{script}",
        "--quiet",
        "--no-cache",
    ]
    run = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert run.returncode == 0, run.stderr
    assert "rejected q2: no evidence" in run.stdout and "1 unreadable file" in run.stderr
    (rubric,) = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert rubric["id"] == "nuggets-q1" and rubric["criteria"][0]["kind"] == "nugget"
    rerun = subprocess.run(command, capture_output=True, text=True, cwd=ROOT)
    assert rerun.returncode == 0 and out.read_text(encoding="utf-8").count("nuggets-q1") == 1
