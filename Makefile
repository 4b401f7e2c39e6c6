# Set-up is idempotent: the venv is (re)built only when pyproject.toml or the
# constraints change. On a machine without nvidia-smi the CPU build of torch is
# installed first and pinned, so no dependency pulls a CUDA wheel.
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
HAS_GPU := $(shell command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1 && echo yes)
ifeq ($(HAS_GPU),yes)
CONSTRAINTS :=
else
CONSTRAINTS := -c constraints/cpu.txt
endif
STAMP := $(VENV)/.installed

.PHONY: install quickstart test crd lint clean help

help:
	@echo "make quickstart  run examples/quickstart.yaml on this machine (CPU is fine)"
	@echo "make test        run the whole test suite"
	@echo "make crd         regenerate crds/ and the chart's copy from the spec models"

$(STAMP): pyproject.toml constraints/cpu.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(if $(HAS_GPU),torch,torch==2.13.0)
	$(PY) -m pip install -q --disable-pip-version-check $(CONSTRAINTS) -e '.[worker,operator,dev]'
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/safesynth run examples/quickstart.yaml

test: $(STAMP)
	$(PY) -m pytest -q

crd: $(STAMP)
	$(VENV)/bin/safesynth crd > crds/safesynthjobs.safesynth.io.yaml
	cp crds/safesynthjobs.safesynth.io.yaml helm/safesynth/crds/

clean:
	rm -rf $(VENV) safesynth-runs .pytest_cache
