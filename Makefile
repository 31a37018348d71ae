# corpusforge: the two commands of the quickstart, and the set-up they need.
#   make demo   create .venv if missing, install, run the pipeline on the bundled sample corpus
#   make test   same set-up, then the whole test suite
#   make lint   ruff over the whole tree (rules in pyproject.toml); CI runs it before the tests
#   make bench  the benchmark suite at the quick size (BENCH_SIZE=full for the documented large sizes;
#               BENCH_ARGS='--only ingest,loader' for a subset): bench-results.json + one Markdown table
# TORCH_SPEC pins PyTorch: the default is the CPU build that lies on this kind of machine. On a GPU
# machine install your own CUDA build of torch into .venv first, or run e.g. `make TORCH_SPEC=torch test`.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_SPEC ?= torch==2.13.0
STAMP := $(VENV)/.corpusforge-installed
DEMO_OUT ?= demo-out
PYTEST_ARGS ?= --durations=25
BENCH_SIZE ?= quick
BENCH_ARGS ?=

.PHONY: demo test lint install check-java clean bench jvm-archive

install: $(STAMP)

$(STAMP): pyproject.toml setup.py pipelines/text/_minhash_kernel.c
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip setuptools wheel
	@# torch first and pinned: an unpinned torch can pull a multi-GB CUDA build.
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/python -m pip install --quiet "$(TORCH_SPEC)"
	@# also compiles the MinHash kernel (setup.py; needs a C compiler, else numpy is used with a warning)
	$(BIN)/python -m pip install --quiet -e ".[dev,pack]"
	@# presidio-evaluator: its sentence generator and templates make the PII parity test's and benchmark's
	@# evaluation sets. --no-deps: its declared requirements (transformers, plotly, scikit-learn, pandas>=3)
	@# are for parts we do not use; the generator needs only faker, pandas, numpy, tqdm and python-dotenv.
	$(BIN)/python -m pip install --quiet --no-deps "presidio-evaluator==0.3.2" "python-dotenv>=1.0"
	@touch $(STAMP)

check-java:
	@bash scripts/check_java.sh

# The JVM class archive that halves an embedded Spark's start-up (pipelines/jvm_archive.py): built once per
# JDK and Spark install (~15 s, ~150-190 MB under ~/.cache/corpusforge/jvm), a no-op when it exists. Spark
# runs without it (slower to start) if it cannot be built.
jvm-archive: $(STAMP) check-java
	@$(BIN)/corpusforge jvm-archive || echo "warning: no JVM class archive; Spark starts without it"

demo: $(STAMP) check-java jvm-archive
	$(BIN)/corpusforge run --config demo --input 'pipelines/assets/demo/*.jsonl*' --output $(DEMO_OUT)
	@echo
	@echo "Outputs in $(DEMO_OUT)/: run.json (manifest and counts), curated/, rejected/, quarantine/ (Parquet),"
	@echo "  shards/ (token shards + index.json), ledger/ (removals), report/report.html (open it in a browser)"

test: $(STAMP) check-java jvm-archive
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP) check-java jvm-archive
	$(BIN)/python -m benchmarks.run_all --size $(BENCH_SIZE) --out bench-results.json $(BENCH_ARGS)

clean:
	rm -rf $(DEMO_OUT) .pytest_cache
