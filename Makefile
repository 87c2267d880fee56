# One command each: `make run` (set up if needed, then the whole benchmark), `make test`.
# The set-up installs the pinned environment of constraints.txt into .venv (CPU torch).
SHELL := /bin/bash
VENV ?= .venv
BIN := $(VENV)/bin
export DVC_NO_ANALYTICS := 1
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1

.PHONY: setup run test small lockcheck lock sweep sweep-report

setup: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt requirements-nodeps.txt
	python3 -m venv $(VENV)
	$(BIN)/pip install -q -c constraints.txt torch==2.13.0
	$(BIN)/pip install -q -c constraints.txt -e ".[dev]"
	$(BIN)/pip install -q --no-deps -r requirements-nodeps.txt
	touch $@

run: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro

# One torch thread per test process: on 2 cores oversubscription is 50-100x slower.
test: setup
	$(BIN)/ruff check .
	OMP_NUM_THREADS=1 $(BIN)/python -m pytest -q

# The small pipeline (real models, tiny sizes) through the metric regression gate.
small: setup
	OMP_NUM_THREADS=1 $(BIN)/python ci/small_pipeline.py

# The teacher-quality sweep (studies/params.yaml's teacher_sweep): one `dvc exp` per teacher
# config, queued and run in the background; `dvc queue status` shows progress.
sweep: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m kdbench.teacher_sweep queue

# When the queue is done: the experiments read back, then the sweep's tables and figure.
sweep-report: setup
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m kdbench.teacher_sweep collect
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/dvc repro studies/dvc.yaml:teacher_sweep_report

# The committed dvc.lock is the run of this commit's code and params (no data needed).
lockcheck: setup
	$(BIN)/python -m kdbench.lockcheck

lock: setup
	$(BIN)/pip freeze --exclude-editable | sed 's/+cpu$$//' | \
	  cat <(sed -n '/^#/p' constraints.txt) - > constraints.txt.new
	mv constraints.txt.new constraints.txt
