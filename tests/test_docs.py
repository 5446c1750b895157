"""The README's and the documentation pages' code blocks run as written.

Every fenced block names its language, and each language has its test:
- ```python blocks are executed;
- ```bash lines: `rubric ...` commands are parsed with the real argument parser and run
  (scripted `fake:` judges here, API examples against a local server that speaks the
  providers' wire formats; those naming a hub model are parsed and then skipped, with the
  reason), `curl` lines run against the page's own `rubric serve` example, and a block of
  other commands runs in bash;
- ```json lines are judge input items and ```yaml blocks rubrics, both parsed;
- ```text blocks are output or drawings, not code; a block that only includes a file
  (`--8<--`) is checked by the site's strict build (test_site_builds_strict).
A block marked `<!-- not run here: REASON -->` on the line before it is not run (the reason
is required). The site itself is built with --strict, as `make docs` builds it.
"""

import asyncio
import os
import re
import shlex
import shutil
import subprocess
import sys

import pytest

import cli
from tests.conftest import ROOT, third_party

PAGES = ["README.md", *sorted(str(path.relative_to(ROOT)) for path in (ROOT / "docs").glob("*.md"))]
LANGUAGES = {"python", "bash", "json", "yaml", "text"}
NOT_RUN = re.compile(r"<!-- not run here: (\S.*?) -->")


def fenced(page):
    """(language, body, the reason it is not run or None) of every fenced block on the page."""
    text = (ROOT / page).read_text(encoding="utf-8")
    for match in re.finditer(r"^( *)```(\S*)\n(.*?)^\1```", text, flags=re.DOTALL | re.MULTILINE):
        previous = text[: match.start()].split("\n")[-2:-1]  # the line just before the fence
        reason = NOT_RUN.fullmatch(previous[0]) if previous else None
        body = "\n".join(line[len(match.group(1)) :] for line in match.group(3).splitlines()) + "\n"
        yield match.group(2), body, reason.group(1) if reason else None


def blocks(language, pages=PAGES):
    return [
        (page, body)
        for page in pages
        for lang, body, reason in fenced(page)
        if lang == language and reason is None and not body.startswith("--8<--")
    ]


def indexed(language):
    counts = {}
    for page, body in blocks(language):
        counts[page] = counts.get(page, 0) + 1
        yield pytest.param(page, body, id=f"{page}:{language}{counts[page]}")


def commands(prefix, pages=PAGES):
    for page, block in blocks("bash", pages):
        for command in block.replace("\\\n", " ").splitlines():
            command = command.split("#")[0].strip()
            if command.startswith(prefix):
                yield page, command


def test_every_block_is_labelled_and_the_readme_is_short():
    for page in PAGES:
        for language, body, reason in fenced(page):
            assert language in LANGUAGES, f"{page}: a ```{language or '(no language)'} block: {body[:60]!r}"
        prose = re.sub(
            r"`[^`\n]*`", "", re.sub(r"```.*?```", "", (ROOT / page).read_text(encoding="utf-8"), flags=re.DOTALL)
        )
        tags = re.findall(r"<(?!!--)[a-zA-Z/][^>\n]*>", prose)
        assert not tags, f"{page}: {tags} would be read as HTML and vanish from the page: quote it in `code`"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 250, "the README is the front door: at most 250 lines, the rest in docs/"
    assert "make demo" in readme and "make test" in readme
    assert len(blocks("python", ["README.md"])) >= 2 and len(list(commands("rubric ", ["README.md"]))) >= 3


@pytest.mark.parametrize(("page", "source"), list(indexed("python")))
def test_python_example(page, source, monkeypatch):
    monkeypatch.chdir(ROOT)
    exec(compile(source, f"{page} python block", "exec"), {"__name__": "__docs__"})


@pytest.mark.parametrize("index", range(len(blocks("python", ["README.md"]))))
def test_readme_python_runs_in_a_notebook(index, monkeypatch):
    """A notebook's kernel runs an event loop and executes cells inside it: the README's
    synchronous examples (judge.evaluate, the TRL reward) must work there too."""
    monkeypatch.chdir(ROOT)
    _, source = blocks("python", ["README.md"])[index]

    async def cell():
        asyncio.get_running_loop()  # as in a kernel: a loop is running while the cell runs
        exec(compile(source, "README python block", "exec"), {"__name__": "__docs__"})

    asyncio.run(cell())


@pytest.mark.parametrize(
    ("page", "command"), [pytest.param(*pc, id=f"{pc[0]}:{pc[1][:60]}") for pc in commands("rubric ")]
)
def test_shell_example(page, command, rubric_exe, tmp_path):
    argv = shlex.split(command)[1:]
    cli.build_parser().parse_args(argv)  # every example parses
    model = argv[argv.index("--model") + 1] if "--model" in argv else "fake:"
    if model.startswith(API_PREFIXES):
        return run_against_local_provider(argv, rubric_exe, tmp_path)
    if not model.startswith("fake:"):
        pytest.skip("names a real model that this offline machine cannot download")
    if argv[0] == "serve":
        return run_server_with_curl_examples(argv, rubric_exe, page)
    needs_registered_data(argv)
    if argv[0] == "report":  # reports what another example wrote: run that one first
        producer = next(shlex.split(c)[1:] for _, c in commands("rubric ") if f"--output {argv[1]}" in c)
        needs_registered_data(producer)
        subprocess.run([rubric_exe, *producer, "--overwrite"], capture_output=True, cwd=ROOT, timeout=120, check=True)
    if "--output" in argv and argv[0] != "report":  # as on a fresh machine: nothing of an earlier run
        output = ROOT / argv[argv.index("--output") + 1]
        for earlier in output.parent.glob(output.name + "*"):  # the output and its side files (.pairs.jsonl, .lock)
            shutil.rmtree(earlier) if earlier.is_dir() else earlier.unlink()  # a Ray run's output is a folder of shards
    result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr


def other_shell_blocks():
    for page, block in blocks("bash"):
        lines = [line.split("#")[0].strip() for line in block.replace("\\\n", " ").splitlines()]
        if not any(line.startswith(("rubric ", "curl ")) for line in lines):
            yield pytest.param(block, id=f"{page}:{lines[0][:40]}")


@pytest.mark.parametrize("block", list(other_shell_blocks()))
def test_other_shell_block(block):
    """Set-up lines (activating the virtualenv) run in bash from the checkout."""
    if not (ROOT / ".venv" / "bin" / "activate").exists():
        pytest.skip("no .venv in the checkout: `make demo` or `make test` creates it")
    result = subprocess.run(["bash", "-e", "-c", block], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    if "which rubric" in block:
        assert result.stdout.strip().endswith(".venv/bin/rubric"), result.stdout


API_PREFIXES = ("openai/", "anthropic/", "litellm/")


def needs_registered_data(argv):
    """A benchmark named in the example must have a local copy here (tests never download)."""
    from judge.eval import datasets

    names = [argv[i + 1] for i, arg in enumerate(argv) if arg == "--benchmark"]
    for name in names:
        if name in datasets.benchmarks():
            for relative in datasets.benchmarks()[name].files:
                third_party(relative)


def run_server_with_curl_examples(argv, rubric_exe, page):
    """`rubric serve` as written (on a free port), then the README's curl lines against it,
    then SIGTERM: the server must stop cleanly."""
    import json
    import re
    import shutil
    import signal

    if shutil.which("curl") is None:
        pytest.skip("curl is not installed")
    argv = [("0" if previous == "--port" else arg) for previous, arg in zip([None, *argv], argv)]
    process = subprocess.Popen([rubric_exe, *argv], stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        address = re.search(r"http://([\d.]+:\d+)", process.stderr.readline()).group(1)
        curls = [command for _, command in commands("curl ", [page])]
        assert curls, f"{page} shows `rubric serve` with no request to it"
        for command in curls:
            words = [word.replace("localhost:8000", address) for word in shlex.split(command)]
            answer = json.loads(subprocess.run(words, capture_output=True, text=True, timeout=60, check=True).stdout)
            assert "error" not in answer, (command, answer)
            assert {"reward", "results", "rewards", "requests"} & set(answer), (command, answer)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
    finally:
        process.kill()


def run_against_local_provider(argv, rubric_exe, tmp_path):
    """API examples run as written against a local server speaking the providers' wire
    formats: provider URLs come from the SDKs' own environment variables, and example
    server URLs (--base-url, the router file) are pointed at it."""
    import json
    import os

    from tests.provider_server import ProviderServer

    with ProviderServer() as server:
        argv = [server.url + "/v1" if previous == "--base-url" else arg for previous, arg in zip([None, *argv], argv)]
        (tmp_path / "examples").symlink_to(ROOT / "examples")
        deployment = {
            "model_name": "judge",
            "litellm_params": {"model": "openai/judge", "api_base": server.url + "/v1", "api_key": "EMPTY"},
        }
        (tmp_path / "router.yaml").write_text(json.dumps({"model_list": [deployment]}))
        env = {
            **os.environ,
            "OPENAI_API_KEY": "sk-test",
            "OPENAI_BASE_URL": server.url + "/v1",
            "ANTHROPIC_API_KEY": "sk-ant-test",
            "ANTHROPIC_BASE_URL": server.url,
            "RUBRIC_JUDGE_CACHE_DIR": str(tmp_path / "cache"),
        }
        result = subprocess.run([rubric_exe, *argv], capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
        assert result.returncode == 0, result.stdout + result.stderr
        assert server.requests, "the example made no request"
        assert "API usage:" in result.stdout


def test_input_examples_are_valid_items():
    from judge.runs.inputs import parse_line
    from judge.rubric_lookup import RubricSource

    lines = [line for _, block in blocks("json") for line in block.splitlines() if line.strip()]
    assert len(lines) >= 3
    for number, line in enumerate(lines, start=1):
        item = parse_line(line.encode(), number, RubricSource.from_option("helpfulness"))
        assert not hasattr(item, "message"), item


def test_rubric_examples_are_valid_rubrics():
    import yaml

    from rubrics.model import Rubric

    shown = blocks("yaml")
    assert len(shown) >= 3
    for page, block in shown:
        rubric = Rubric.model_validate(yaml.safe_load(block))
        assert rubric.criteria, page


def test_site_builds_strict(tmp_path):
    """`make docs`: every page, link, anchor and included file resolves; the command-line
    reference is the parser's and the Python reference the code's."""
    pytest.importorskip("mkdocs", reason="the docs extra installs MkDocs")
    site = tmp_path / "site"
    result = build_site(ROOT / "mkdocs.yml", site)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    cli_page = (site / "cli.html").read_text(encoding="utf-8")  # pages as page.html: the site opens from disk
    for command in ("rubric judge", "rubric rubrics validate", "rubric library show", "--request-shape"):
        assert command in cli_page, command
    reference = (site / "reference.html").read_text(encoding="utf-8")
    for documented in (
        "judge.engine.Judge.evaluate",
        "judge.engine.Judge.aevaluate_many",
        "judge.rl.trl_reward.rubric_reward",
    ):
        assert f'id="{documented}"' in reference, documented
    assert (site / "search" / "search_index.json").exists()
    # opened from disk (file://): links name pages, never folders a browser would list
    home = (site / "index.html").read_text(encoding="utf-8")
    pages = re.findall(r'href="([^"#:]+)"', home)
    assert "rewards.html" in pages and not [p for p in pages if p.endswith("/") and not p.startswith("http")]
    # the rewards page shows the GRPO run's own charts, served from bench/results/
    rewards = (site / "rewards.html").read_text(encoding="utf-8")
    for chart in ("results/grpo/verifiable.png", "results/grpo/judged.png"):
        assert f'src="{chart}"' in rewards and (site / chart).exists(), chart
    assert rewards.count('class="md-nav__link"') > 5  # a table of contents: a heading per topic


def test_site_build_fails_on_a_broken_link(tmp_path):
    pytest.importorskip("mkdocs", reason="the docs extra installs MkDocs")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    (tmp_path / "docs" / "concepts.md").write_text("# Concepts\n\nSee [a page](no-such-page.md).\n", encoding="utf-8")
    config = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    (tmp_path / "mkdocs.yml").write_text(config.replace('base_path: ["."]', f'base_path: ["{ROOT}"]'), encoding="utf-8")
    result = build_site(tmp_path / "mkdocs.yml", tmp_path / "site")
    assert result.returncode != 0 and "no-such-page.md" in result.stdout + result.stderr


def build_site(config, site):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}  # MkDocs 2's banner: not ours to act on
    command = [
        sys.executable,
        "-m",
        "mkdocs",
        "build",
        "--strict",
        "--config-file",
        str(config),
        "--site-dir",
        str(site),
    ]
    return subprocess.run(command, capture_output=True, text=True, cwd=config.parent, timeout=300, env=env)
