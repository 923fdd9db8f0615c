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

.PHONY: lab test install lint release check-release present bench clean

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

test: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m pytest -n 2 --durations=10

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

# BENCH_ARGS: e.g. make bench BENCH_ARGS="--only models,sampling" (the other sections of results.md are kept)
bench: $(STAMP)
	$(PY) -m benchmarks.run $(BENCH_ARGS)

clean:
	rm -rf $(VENV) grades build .pytest_cache .ruff_cache
