# Two commands on a fresh clone: `make demo` and `make test`. Both create .venv when missing.
# torch is installed first and pinned (torch==2.13.0, the CPU build): an unpinned torch would pull
# several GB of CUDA packages. constraints.txt keeps every later step on that version.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.wattlens-installed
PGURL   = $(shell scripts/pg.sh url)

.PHONY: demo test test-fast lint venv bench-overhead clean

# Line-coverage floor of `make test`: the measured figure rounded down (91.2 % when it was set;
# CLI and worker subprocesses included). The summary is printed; below the floor the run fails.
COV_FLOOR ?= 91

venv: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -c constraints.txt -e ".[all,dev]"
	touch $(STAMP)

# The main job: the quick Power-Hungry-Processing suite on this machine, leaderboard first.
demo: $(STAMP)
	HF_HUB_OFFLINE=1 $(VENV)/bin/wattlens bench --suite quick --db wattlens-demo.sqlite --html wattlens-demo.html
	HF_HUB_OFFLINE=1 $(VENV)/bin/wattlens -q analyze distilgpt2 --hardware this-machine --phase decode --batch 4 \
		--prompt 64 --new-tokens 16 --db wattlens-demo.sqlite >/dev/null
	@echo ""
	@echo "See every result in your browser (read-only, this machine only):"
	@echo "  $(VENV)/bin/wattlens serve --db wattlens-demo.sqlite    # then open http://127.0.0.1:8765/"

# Everything: lint and types first, then every test with line coverage (the figure is printed; below
# COV_FLOOR fails). The loopback PostgreSQL test server (trust auth) is stopped when the tests end, pass or fail.
# CLI and worker subprocesses started by the tests are measured too. The browser tests of
# `wattlens serve` drive Debian's Chromium (scripts/chromium.sh installs it when missing); the exporter's
# tests start Debian's Prometheus server on a loopback port (scripts/prometheus.sh installs it when missing).
test: lint
	scripts/pg.sh start >/dev/null
	scripts/chromium.sh >/dev/null
	scripts/prometheus.sh >/dev/null
	rm -f .coverage .coverage.*
	status=0; \
	WATTLENS_TEST_PG_URL=$(PGURL) HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not perf" --durations=20 \
		--cov --cov-report=term --cov-fail-under=$(COV_FLOOR) || status=$$?; \
	[ $$status -ne 0 ] || HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m perf || status=$$?; \
	scripts/pg.sh stop; exit $$status

# The quick lane while working: every test not marked slow (<= 3 min on 2 cores), no coverage.
test-fast: $(STAMP)
	scripts/pg.sh start >/dev/null
	status=0; WATTLENS_TEST_PG_URL=$(PGURL) HF_HUB_OFFLINE=1 $(PY) -m pytest -q -m "not slow" || status=$$?; \
	scripts/pg.sh stop; exit $$status

# ruff (lint + format), then mypy as configured in pyproject.toml (strict for meters, tracking,
# carbon and store; the default level elsewhere).
lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks scripts
	$(VENV)/bin/ruff format --check src tests benchmarks scripts
	$(VENV)/bin/mypy

# The meter's own cost against CodeCarbon and Zeus, in one run (issue 14). The anchors live in their own venv,
# built once from the package registry with constraints.txt (neither pulls torch).
ANCHORS ?= /tmp/anchors-venv
bench-overhead: $(STAMP)
	test -x $(ANCHORS)/bin/python || python3 -m venv $(ANCHORS)
	$(ANCHORS)/bin/python -c "import codecarbon, zeus" 2>/dev/null || \
		$(ANCHORS)/bin/pip install -q -c constraints.txt codecarbon==3.3.2 zeus==0.16.0
	$(PY) benchmarks/measure_overhead.py --runs 5 --anchor-python $(ANCHORS)/bin/python --profile

clean:
	scripts/pg.sh stop
	rm -rf $(VENV) build *.egg-info
