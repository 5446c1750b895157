"""The package as users get it: `python -m build` makes an sdist and a wheel (built from the
sdist), the wheel installs into a fresh virtual environment in a temporary folder, and there,
with no checkout on sys.path, the commands run on the data the package ships (the rubric
library, the prompt templates, the attack suite and its corpora)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
import venv
from pathlib import Path

import pytest

from tests.conftest import ROOT

VERSION = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["version"]


def run(argv: list, cwd: Path, timeout: int = 600) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(a) for a in argv], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(the fresh environment's bin folder, a working folder outside the checkout)."""
    pytest.importorskip("build", reason="the test extra installs `build`")
    dist = tmp_path_factory.mktemp("dist")
    built = run([sys.executable, "-m", "build", "--outdir", dist, ROOT], cwd=dist)
    assert built.returncode == 0, built.stderr[-3000:]
    wheels, sdists = list(dist.glob("*.whl")), list(dist.glob("*.tar.gz"))
    assert len(wheels) == 1 and len(sdists) == 1 and VERSION in wheels[0].name
    env = tmp_path_factory.mktemp("fresh") / "venv"
    venv.create(env, with_pip=True)
    bin_dir = env / "bin"
    pip = run([bin_dir / "python", "-m", "pip", "install", "-q", "--disable-pip-version-check", wheels[0]], cwd=dist)
    assert pip.returncode == 0, pip.stderr[-3000:]
    work = tmp_path_factory.mktemp("elsewhere")
    return bin_dir, work


def test_version_has_one_home_and_a_changelog_entry(installed):
    bin_dir, work = installed
    shown = run([bin_dir / "rubric", "--version"], cwd=work)
    assert shown.returncode == 0 and shown.stdout.strip() == f"rubric {VERSION}"
    assert re.search(rf"^## {re.escape(VERSION)}\b", (ROOT / "CHANGELOG.md").read_text(encoding="utf-8"), re.M)


def test_the_installed_package_imports_from_itself(installed):
    bin_dir, work = installed
    found = run([bin_dir / "python", "-c", "import judge, rubrics, cli; print(judge.__file__)"], cwd=work)
    assert found.returncode == 0, found.stderr
    assert Path(found.stdout.strip()).is_relative_to(bin_dir.parent) and str(ROOT) not in found.stdout


def test_judge_with_a_library_rubric_and_a_fake_model(installed):
    bin_dir, work = installed
    items = [
        {"id": "a", "prompt": "Name a prime number.", "response": "7 is prime."},
        {"id": "b", "prompt": "Name a prime number.", "response": "Nine."},
    ]
    (work / "in.jsonl").write_text("".join(json.dumps(i) + "\n" for i in items), encoding="utf-8")
    argv = [bin_dir / "rubric", "judge", "--rubric", "helpfulness", "--model", "fake:yes", "--no-cache"]
    judged = run([*argv, "--input", "in.jsonl", "--output", "out.jsonl"], cwd=work)
    assert judged.returncode == 0, judged.stderr
    verdicts = [json.loads(line) for line in (work / "out.jsonl").read_text().splitlines()]
    assert sorted(v["item_id"] for v in verdicts) == ["a", "b"]
    assert all(v["rubric_id"] == "helpfulness" and v["status"] == "scored" for v in verdicts)
    assert all(v["score"] == pytest.approx(0.8) for v in verdicts)  # weights 10, a pitfall of 2, every answer yes
    assert "items: 2" in judged.stdout


def test_audit_with_a_scripted_judge_finds_its_shipped_attacks(installed):
    bin_dir, work = installed
    audited = run([bin_dir / "rubric", "audit", "--model", "fake:yes", "--limit", "2", "--no-cache"], cwd=work)
    assert audited.returncode == 0, audited.stderr
    assert "master" in audited.stdout.lower() and "injection" in audited.stdout.lower()


def test_the_trl_reward_imports_and_scores(installed):
    bin_dir, work = installed
    code = (
        "from judge.rl import rubric_reward\n"
        "reward = rubric_reward('fake:yes', rubric='helpfulness')\n"
        "print(reward(prompts=['q'], completions=['a'])[0])\n"
    )
    scored = run([bin_dir / "python", "-c", code], cwd=work)
    assert scored.returncode == 0, scored.stderr
    assert float(scored.stdout.strip()) == pytest.approx(0.8)
