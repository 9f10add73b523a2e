# The two commands of the README: `make demo` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
VENV ?= .venv
AIRFLOW_VERSION ?= 3.3.2
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed

.PHONY: demo walkthrough test lint sandbox bench clean system-packages

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' 'apache-airflow==$(AIRFLOW_VERSION)'
	touch $(INSTALLED)

## demo: run the example DAG asf_ifg_aoi_ingest end to end against the sandbox (Airflow on SQLite)
demo: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox.demo

## walkthrough: the 2018 page's steps one by one against the sandbox (search, .netrc, keys, archive, download)
walkthrough: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox.walkthrough

## test: ruff, then the whole pytest suite with Airflow on a throw-away AIRFLOW_HOME (SQLite)
test: $(INSTALLED) lint system-packages
	AIRFLOW_HOME=$$(mktemp -d) AIRFLOW__CORE__LOAD_EXAMPLES=False $(BIN)/python -m pytest

## system-packages: the real tools the tests drive (Debian packages), installed where missing
system-packages:
	.ci/ensure-packages chromium=chromium gdalinfo=gdal-bin

lint: $(INSTALLED)
	$(BIN)/ruff check airflow_asf_ifg tests dags benchmarks

## sandbox: run the sandbox in the foreground (Ctrl-C stops it)
sandbox: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox serve

## bench: run every benchmark script and print its figures
bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]' 'apache-airflow==$(AIRFLOW_VERSION)'
	for script in benchmarks/[!_]*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf $(VENV) *.egg-info
