# Two commands on a fresh machine:  `make main` (set up + run the main job)  and  `make test` (set up + run the tests).
# Everything runs offline: models come from installed packages, never from a hub.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The CPU build of torch that this kind of machine keeps on disk. On a GPU machine, set TORCH_SPEC to the
# build you want (e.g. TORCH_SPEC="torch==2.13.0 --index-url <your CUDA wheel index>"), or to "" to keep an installed one.
TORCH_SPEC ?= torch==2.13.0

export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false
export MPLBACKEND := Agg

.PHONY: install main test test-slow test-all benchmarks clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	@if [ -n "$(TORCH_SPEC)" ]; then $(BIN)/python -m pip install -q $(TORCH_SPEC); fi
	$(BIN)/python -m pip install -q -e ".[all,dev]"
	touch $(STAMP)

install: $(STAMP)

main: install
	$(BIN)/lived-themes run experiments/nsun2014.yaml

test: install
	$(BIN)/python -m pytest

test-slow: install
	$(BIN)/python -m pytest -m slow

test-all: install
	$(BIN)/python -m pytest -m "slow or not slow"

clean:
	rm -rf $(VENV) runs .pytest_cache
