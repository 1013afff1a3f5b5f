# Every target creates the virtual environment on first use, so a fresh clone needs nothing but python3.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
EXTRAS ?= dev,bench,notebooks
# make reproduce PROFILE=smoke|cpu|long|gpu [NOTEBOOKS=01,02] [OUTPUT=folder] [JOBS=N]
PROFILE ?= cpu
OUTPUT ?= outputs/$(PROFILE)
NOTEBOOKS ?=
# Runs trained in parallel before the notebooks start (empty: one per core on CPU, one per GPU).
JOBS ?=
comma := ,
STAMP := $(VENV)/.installed-$(subst $(comma),-,$(EXTRAS))

.PHONY: install test bench reproduce data lab clean

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e ".[$(EXTRAS)]"
	# The kernel the notebooks name ("ssl-lib"), inside the venv: papermill and JupyterLab run this Python.
	$(BIN)/python -m ipykernel install --sys-prefix --name ssl-lib --display-name "Python (ssl-lib)"
	# Notebooks stay clean in git however often they are run in JupyterLab (.gitattributes names the filter).
	if git rev-parse --git-dir >/dev/null 2>&1; then $(BIN)/nbstripout --install; fi
	touch $@

# nbval runs every notebook in the smoke profile, then the unit tests (and the browser test, which
# needs Debian's chromium: skipped without it, required by CI) check them: see conftest.py.
test: $(STAMP)
	$(BIN)/python -m pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/augment_throughput.py

# All notebooks through papermill into $(OUTPUT): executed notebooks, html/index.html, results.json.
reproduce: $(STAMP)
	$(BIN)/python -m ssl_lib.reproduce --profile $(PROFILE) --output $(OUTPUT) $(if $(NOTEBOOKS),--notebooks $(NOTEBOOKS)) $(if $(JOBS),--jobs $(JOBS))

# The real datasets $(PROFILE) reads, into data/: checked, resumable (python -m ssl_lib.fetch --help).
data: $(STAMP)
	$(BIN)/python -m ssl_lib.fetch --profile $(PROFILE) --root data $(if $(DRY_RUN),--dry-run)

lab: $(STAMP)
	$(BIN)/jupyter lab notebooks

clean:
	rm -rf $(VENV) .pytest_cache
