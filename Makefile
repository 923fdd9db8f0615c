# Shikumi — two commands on a fresh machine:
#   make lab    set up .venv and open the course in JupyterLab
#   make test   set up .venv and run the whole test suite
#
# PyTorch: by default we ask for torch==2.13.0 (a CPU build where one is on disk, as on the course machines),
# and fall back to any torch in the supported range. A GPU user installs a CUDA build first, or sets
# TORCH_SPEC, e.g.  make lab TORCH_SPEC="torch --index-url https://download.pytorch.org/whl/cu128"

PYTHON ?= python3
VENV ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

HUB_PROXY_VERSION ?= 4.6.3
HUB_PROXY := $(VENV)/share/hub-proxy/node_modules/.bin/configurable-http-proxy

.PHONY: lab test install lint release check-release present bench hub clean

install: $(STAMP)

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q $(TORCH_SPEC) || $(PY) -m pip install -q "torch>=2.3,<3"
	$(PY) -m pip install -q -e ".[test]"
	$(PY) -m pip install -q --no-deps "open_clip_torch>=2.20"
	@touch $(STAMP)

# LAB_ARGS: extra options, e.g. make lab LAB_ARGS="--no-browser --port 8890"
lab: $(STAMP)
	$(VENV)/bin/jupyter lab lessons/ $(if $(filter 0,$(shell id -u)),--allow-root) $(LAB_ARGS)

# --dist loadgroup: each worker takes the next test as it frees up, the longest first (tests/conftest.py), and
# the tests that share an expensive fixture stay on one worker
test: $(STAMP) $(HUB_PROXY)
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --dist loadgroup --no-loadscope-reorder --durations=20

lint: $(STAMP)
	$(PY) -m ruff check .

release: $(STAMP)
	$(VENV)/bin/shikumi release

check-release: $(STAMP)
	$(VENV)/bin/shikumi release --check

# The presenter's edition of every lesson, run once and laid out as slides (build/present/<lang>/);
# PRESENT_ARGS: e.g. make present PRESENT_ARGS="--lang ja --lessons 01_ngram 08_text_to_image"
present: $(STAMP)
	$(VENV)/bin/shikumi release --present build/present $(PRESENT_ARGS)

# JupyterHub's proxy, from npm, into the venv (4.6.3: the last that runs on Debian 12's Node.js 18).
# Without npm, tests/test_hub.py skips and `make hub` says what to install.
$(HUB_PROXY):
	@if command -v npm >/dev/null; then \
	    npm install --prefix $(VENV)/share/hub-proxy --no-audit --no-fund --no-save --loglevel=error \
	        configurable-http-proxy@$(HUB_PROXY_VERSION) \
	    || echo "npm could not install configurable-http-proxy: no make hub, and its test skips" >&2; \
	else echo "npm is missing (apt-get install nodejs npm): no JupyterHub proxy, so no make hub" >&2; fi

# One JupyterHub for a study session: docs/instructor-guide.md, "One hub for the room". Run as root, it makes a
# Unix account per participant. HUB_ARGS: e.g. make hub HUB_ARGS="--admin sensei --users aoi,ken --lang ja"
# (python -m shikumi.course.hub --help lists them all)
hub: $(STAMP) $(HUB_PROXY)
	$(PY) -m shikumi.course.hub $(HUB_ARGS)

# BENCH_ARGS: e.g. make bench BENCH_ARGS="--only models,sampling" (the other sections of results.md are kept)
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

# build/hub is kept: it holds a study session's accounts, submissions and grades (remove it yourself).
clean:
	rm -rf $(VENV) grades .pytest_cache .ruff_cache
	@if [ -d build ]; then find build -mindepth 1 -maxdepth 1 ! -name hub -exec rm -rf {} +; fi
	@if [ -d build/hub ]; then echo "kept build/hub: the hub's accounts, submissions and grades"; fi
