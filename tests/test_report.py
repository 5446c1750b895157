"""`rubric report`: the HTML holds the sections and the numbers of its input, and nothing external."""

from __future__ import annotations

import json
import re
import subprocess
from html.parser import HTMLParser

import pytest

from judge.eval.report import build_report
from judge.runs.summary import summarise
from tests.conftest import ROOT, third_party_root


class Page(HTMLParser):
    """Text by element id, section ids, and every external reference."""

    def __init__(self, html: str):
        super().__init__()
        self.by_id: dict[str, str] = {}
        self.sections: list[str] = []
        self.external: list[str] = []
        self.tags: set[str] = set()
        self._open: list[tuple[str, str | None]] = []
        self.text: list[str] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.tags.add(tag)
        for key in ("src", "href"):
            if attrs.get(key) and not attrs[key].startswith("#"):
                self.external.append(attrs[key])
        if tag == "section":
            self.sections.append(attrs.get("id"))
        if tag not in ("br", "meta", "path", "use", "rect"):
            self._open.append((tag, attrs.get("id")))

    def handle_endtag(self, tag):
        while self._open:
            open_tag, _ = self._open.pop()
            if open_tag == tag:
                break

    def handle_data(self, data):
        self.text.append(data)
        for _, element_id in self._open:
            if element_id:
                self.by_id[element_id] = self.by_id.get(element_id, "") + data


def self_contained(page: Page) -> None:
    assert page.external == [] and "script" not in page.tags and "link" not in page.tags and "img" not in page.tags


@pytest.fixture(scope="module")
def verdicts(tmp_path_factory, rubric_exe):
    path = tmp_path_factory.mktemp("report") / "verdicts.jsonl"
    command = [
        rubric_exe,
        "judge",
        "--rubric",
        "helpfulness",
        "--input",
        "examples/sample_responses.jsonl",
        "--output",
        str(path),
        "--model",
        "fake:random:4",
        "--no-cache",
        "--quiet",
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    return path


def test_verdicts_report_sections_and_numbers(verdicts):
    records = [json.loads(line) for line in verdicts.read_text().splitlines()]
    page = Page(build_report(verdicts))
    self_contained(page)
    assert page.sections == ["summary", "histogram", "criteria", "unscored", "worst"]
    summary = summarise(records, judged_now=len(records), malformed_lines=0)
    assert page.by_id["items"] == str(len(records))
    assert page.by_id["mean-score"] == f"{summary.mean_score:.3f}"
    assert page.by_id["mean-hard-score"] == f"{summary.mean_hard_score:.3f}"
    text = " ".join(page.text)
    for (rubric_id, criterion_id), stats in summary.criteria.items():
        assert f"{rubric_id}/{criterion_id}" in text
        assert f"{stats.met / stats.scored:.3f}" in text
    worst = min((r for r in records if r["score"] is not None), key=lambda r: r["score"])
    worst_heading = re.search(r"Worst-scoring items\s+(\S+)", text).group(1)
    assert worst_heading == worst["item_id"]
    assert text.count("<svg") == 0 and build_report(verdicts).count("<svg") == 2  # histogram and pass rates, inline


def test_unscored_reasons_are_listed(tmp_path, verdicts):
    records = [json.loads(line) for line in verdicts.read_text().splitlines()]
    records[0]["results"][0].update(status="unscored", p_yes=None, met=None, reason="backend error: timeout")
    path = tmp_path / "v.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in records) + "not json\n")
    page = Page(build_report(path))
    assert "criterion: backend error: timeout" in " ".join(page.text)
    assert page.by_id["unscored-criteria"] == "1"


def test_eval_report_tables(tmp_path, rubric_exe):
    results = tmp_path / "eval.json"
    command = [
        rubric_exe,
        "eval",
        "--benchmark",
        "llmbar",
        "--model",
        "fake:random:1",
        "--limit",
        "30",
        "--data-dir",
        str(third_party_root("llmbar/LLMBar_Natural.json")),
        "--output",
        str(results),
        "--no-cache",
        "--quiet",
    ]
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True, timeout=120)
    data = json.loads(results.read_text())
    html = build_report(results)
    page = Page(html)
    self_contained(page)
    assert page.sections == ["summary", "benchmark-llmbar"]
    text = " ".join(page.text)
    overall = data["benchmarks"]["llmbar"]["overall"]
    low, high = overall["accuracy"]["ci95"]
    assert f"{overall['accuracy']['value']:.3f} [{low:.3f}, {high:.3f}]" in text
    assert "position consistency" in text and "better is longer" in text
    fit = overall["fitted_margin"]
    assert f"--decision averaged --margin {fit['margin']:.3f}" in text and f"{fit['folds']}-fold held out" in text
    for source in data["benchmarks"]["llmbar"]["by_source"]:
        assert source in text
    assert html.count("<svg") == 1


def test_report_refuses_what_it_cannot_read(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text("{")
    with pytest.raises(ValueError, match="not JSON"):
        build_report(bad)
    bad.write_text("{}")
    with pytest.raises(ValueError, match="not the results of `rubric eval`: model: Field required"):
        build_report(bad)
    drifted = {
        "model": "m",
        "mode": "graded",
        "seed": 0,
        "benchmarks": {"b": {"input": {"records": 1, "skipped": {}}, "graded": {"examples": "two"}}},
    }
    bad.write_text(json.dumps(drifted))
    with pytest.raises(ValueError, match=r"x.json: not the results of `rubric eval`: benchmarks.b.graded.examples: "):
        build_report(bad)
    empty = tmp_path / "x.jsonl"
    empty.write_text("nothing\n")
    with pytest.raises(ValueError, match="no verdict lines"):
        build_report(empty)
