# Two commands on a fresh clone: `make demo` and `make test`. Both create .venv when missing.
# torch is installed first and pinned (torch==2.13.0, the CPU build): an unpinned torch would pull
# several GB of CUDA packages. constraints.txt keeps every later step on that version.
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(VENV)/bin/pip
STAMP  := $(VENV)/.wattlens-installed
PGURL   = $(shell scripts/pg.sh url)

.PHONY: demo test lint venv bench-overhead clean

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

test: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks
	scripts/pg.sh start >/dev/null
	WATTLENS_TEST_PG_URL=$(PGURL) HF_HUB_OFFLINE=1 $(PY) -m pytest -q

lint: $(STAMP)
	$(VENV)/bin/ruff check src tests benchmarks

clean:
	scripts/pg.sh stop
	rm -rf $(VENV) build *.egg-info
