# Two commands on a fresh machine with only Python 3.11: `make repro` and `make test`.
# Each creates .venv when missing and (re)installs when pyproject.toml changes.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
LAB_STAMP := $(VENV)/.installed-lab
PAPER  ?= heavy-tailed-pg
SCALE  ?= smoke
SEED   ?= 0
FORCE  ?=
LAB_ARGS ?=
export PATH := $(abspath $(BIN)):$(PATH)

.PHONY: install repro test lab paper bench report clean-runs

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m repro.tools.warm    # compile every numba kernel once (cached per module)
	touch $(STAMP)

$(LAB_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[dev,lab]'
	touch $(LAB_STAMP)

install: $(STAMP)

repro: $(STAMP)          ## regenerate every figure, metrics.json and paper/REPORT.md (FORCE=1: rerun every stage)
	$(BIN)/dvc repro $(if $(FORCE),--force,)

test: $(STAMP)           ## the whole test suite (unit, property, kernel-vs-reference, notebooks at smoke scale)
	$(BIN)/python -m pytest

lab: $(LAB_STAMP)        ## open the notebooks in JupyterLab: make lab LAB_ARGS="--ip 0.0.0.0 --port 8890 --no-browser"
	$(BIN)/jupyter lab notebooks/ $(LAB_ARGS)

paper: $(STAMP)          ## one paper at a chosen scale and seed: make paper PAPER=heavy-tailed-pg SCALE=full SEED=3
	$(BIN)/python -m repro.notebook run $(PAPER) --scale $(SCALE) --seed $(SEED)

bench: $(STAMP)          ## every benchmark, JSON on stdout
	$(BIN)/python -m repro.bench all

clean-runs:
	rm -rf runs
