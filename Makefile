# pagerd: `make run` starts the daemon on the example config; `make test` runs the whole suite.
# Both install exact versions with hashes from the lock files in requirements/ (`make lock` writes them).
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test
# uv (writes the locks) and pip-audit live in a venv of their own, installed from requirements/tools.txt
TOOLS := .venv-tools
TOOLS_STAMP := $(TOOLS)/.installed
UV_COMPILE := $(TOOLS)/bin/uv pip compile --quiet --no-config --universal --python-version 3.11 \
	--generate-hashes --annotation-style line --custom-compile-command "make lock" $(if $(UPGRADE),--upgrade)
CONFIG ?= config/pagerd.example.yaml
export PAGERD_LISTEN ?= 127.0.0.1:8080
# Development secrets for `make run` only: published here, so `pagerd serve` refuses them unless it listens
# on loopback (pager/config/secrets.py lists them). A deployment sets its own (README: Security).
export PAGERD_WEBHOOK_TOKEN ?= make-run-development-webhook-token-not-a-secret
export PAGERD_ADMIN_TOKEN ?= make-run-development-admin-token-not-a-secret
export PAGERD_SIGNING_KEY ?= make-run-development-signing-key-not-a-secret
DEV_SECRETS := $(foreach v,PAGERD_WEBHOOK_TOKEN PAGERD_ADMIN_TOKEN PAGERD_SIGNING_KEY,$(if $(filter file,$(origin $(v))),$(v)))
OWN_SECRETS := $(filter-out $(DEV_SECRETS),PAGERD_WEBHOOK_TOKEN PAGERD_ADMIN_TOKEN PAGERD_SIGNING_KEY)
# every page simulated on purpose: logged and recorded as `simulated`, never sent
export PAGERD_NOTIFIER ?= dry_run

.PHONY: run test lint bench bench-full-node bench-storage-floor bench-postgres bench-threads bench-desk bench-portal venv lock audit peers clean clean-data check-config

# the development environment: runtime and test locks
venv: $(TEST_STAMP)

$(PY):
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }

# each lock installs with --require-hashes (setuptools is in it, so the project builds without
# fetching anything unpinned), then the project itself without dependencies
$(RUN_STAMP): requirements/run.txt pyproject.toml | $(PY)
	@$(PIP) --require-hashes -r requirements/run.txt
	@$(PIP) --no-deps --no-build-isolation -e .
	@touch $@

$(TEST_STAMP): requirements/test.txt pyproject.toml | $(PY)
	@$(PIP) --require-hashes -r requirements/test.txt
	@$(PIP) --no-deps --no-build-isolation -e .
	@touch $@

$(TOOLS_STAMP): requirements/tools.txt
	@$(PYTHON) -m venv $(TOOLS)
	@$(TOOLS)/bin/python -m pip install -q --disable-pip-version-check --require-hashes -r requirements/tools.txt
	@touch $@

# lock FILE INPUTS...: resolve into FILE.new (starting from FILE's pins), replace FILE only if it
# changed, so an unchanged lock leaves the venvs that depend on it alone
define lock_file
	@cp $(1) $(1).new 2>/dev/null || true
	@$(UV_COMPILE) -o $(1).new $(2)
	@if cmp -s $(1).new $(1); then rm $(1).new; else mv $(1).new $(1); echo "lock: $(1) changed"; fi
endef

# the lock files from pyproject.toml: test (runtime + test extra) first, then runtime constrained
# to the same versions; existing pins are kept unless `make lock UPGRADE=1`
lock: $(TOOLS_STAMP)
	$(call lock_file,requirements/test.txt,pyproject.toml --extra test requirements/build.in)
	$(call lock_file,requirements/run.txt,pyproject.toml requirements/build.in -c requirements/test.txt)
	$(call lock_file,requirements/tools.txt,requirements/tools.in)
	@echo "lock: requirements/run.txt requirements/test.txt requirements/tools.txt up to date"

# known vulnerabilities of every locked package, asked of an advisory service over the network
# (AUDIT_SERVICE=pypi, the default, or osv); exits 2 and says so when the service cannot be reached
audit: $(TOOLS_STAMP)
	@$(TOOLS)/bin/python scripts/audit.py $(TOOLS)/bin/pip-audit requirements/test.txt requirements/tools.txt

# the database is the config's storage.sqlite.path, read from the config file's folder: for the example
# config var/pagerd.db here (PAGERD_DB, when set, is read from config/ too unless absolute)
run: $(RUN_STAMP)
	@$(VENV)/bin/pagerd check-config $(CONFIG)
	@$(VENV)/bin/pagerd migrate -c $(CONFIG)
	@echo
	@echo "pagerd is starting on http://$(PAGERD_LISTEN) (notifier: $(PAGERD_NOTIFIER); its database is the one migrate named above)."
	@echo "The pagerd command is $(VENV)/bin/pagerd (or 'source $(VENV)/bin/activate', then pagerd). In another terminal,"
	@echo "with this environment (the config reads it):"
	@echo "  export PAGERD_LISTEN=$(PAGERD_LISTEN) PAGERD_NOTIFIER=$(PAGERD_NOTIFIER) $(if $(PAGERD_DB),PAGERD_DB=$(PAGERD_DB) )$(foreach v,$(DEV_SECRETS),$(v)=$($(v)))"
	@$(if $(OWN_SECRETS),echo "  and your own $(OWN_SECRETS)")
	@echo "  $(VENV)/bin/pagerd incidents list -c $(CONFIG)"
	@$(if $(DEV_SECRETS),echo "It uses the Makefile's DEVELOPMENT secrets for $(DEV_SECRETS) (published, accepted on loopback only): never deploy them.")
	@echo "Fire a test alert:"
	@echo "  curl -sS -X POST http://$(PAGERD_LISTEN)/api/v1/alerts/alertmanager \\"
	@echo "    -H 'Authorization: Bearer $(PAGERD_WEBHOOK_TOKEN)' -H 'Content-Type: application/json' \\"
	@echo "    -d @tests/testdata/alertmanager/firing.json"
	@echo "See it:"
	@echo "  curl -sS -H 'Authorization: Bearer $(PAGERD_ADMIN_TOKEN)' http://$(PAGERD_LISTEN)/api/v1/incidents"
	@echo
	@echo "The portal: http://$(PAGERD_LISTEN)/ui/ with these demo sign-ins (make run only; README: Portal):"
	@$(VENV)/bin/pagerd user demo -c $(CONFIG) || echo "  (none: pagerd user add makes accounts)"
	@echo
	@exec $(VENV)/bin/pagerd serve -c $(CONFIG)

check-config: $(RUN_STAMP)
	@$(VENV)/bin/pagerd check-config $(CONFIG)

peers:
	@scripts/peers.sh all

# ruff (lint rules and format) on the whole tree, mypy --strict on the pure core and the store port
lint: venv
	@$(VENV)/bin/ruff check --quiet
	@$(VENV)/bin/ruff format --check --quiet --output-format concise || { echo "lint: run '$(VENV)/bin/ruff format'"; exit 1; }
	@$(VENV)/bin/mypy

# the suite in TEST_WORKERS processes (pytest-xdist); the tests that share a module- or class-scoped fixture run
# on one worker, file by file (tests/conftest.py). 3 on 2 cores: many tests wait on their peers. 1: one worker.
TEST_WORKERS ?= 3
test: venv lint peers
	@scripts/pg.sh start
	@status=0; $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadgroup $(PYTEST_ARGS) || status=$$?; \
	  scripts/pg.sh stop; exit $$status

bench: venv peers
	@$(PY) bench/run.py

# the full node (paging on) of git revision BEFORE and of this tree, side by side in paired rounds
bench-full-node: venv peers
	@BEFORE=$(BEFORE) $(PY) bench/full_node.py

# the storage floor of the full node: pagerd's own SQLite statements replayed with nothing around them, beside
# (b)'s, and the CPU per request of (a), (b) and (c) (prints only; about 1 minute)
bench-storage-floor: venv peers
	@$(PY) bench/storage_floor.py

# pagerd on PostgreSQL (the server on 127.0.0.1:5432, databases of its own): one node against an asyncpg ceiling,
# two nodes behind haproxy (deploy/haproxy/pagerd.cfg), kill -9 of the engine lease holder -> next page sent
# (writes its section of bench/RESULTS.md; about 5 minutes)
bench-postgres: venv peers
	@$(PY) bench/postgres.py

# the support desk: mail intake over LMTP against a bare aiosmtpd ceiling, ticket list/search and RSS with
# 100,000 tickets (writes its section of bench/RESULTS.md)
bench-desk: venv
	@$(PY) bench/desk.py

# the portal with 100,000 tickets and 500 customers: ticket list, ticket page and project page at a fixed 50
# requests/s (httperf, open loop), server and client time against /healthz (writes its section of bench/RESULTS.md)
bench-portal: venv
	@scripts/peers.sh bench-portal
	@$(PY) bench/portal.py

# CPU per request of each server thread, before and after (needs py-spy in the venv; prints only)
bench-threads: venv peers
	@BEFORE=$(BEFORE) $(PY) bench/threads.py

# build output only: the venvs, caches, egg-info and build/. var/ (the database of `make run`, the peers
# of the tests) is data, never removed here.
clean:
	rm -rf $(VENV) $(TOOLS) build *.egg-info .mypy_cache .ruff_cache .pytest_cache .hypothesis

# the database of `make run` (the example config's, with its -wal and -shm files): every incident, booking
# and logged hour in it. Refused unless CONFIRM=1.
DATA_DB ?= var/pagerd.db
DATA_FILES = $(wildcard $(DATA_DB) $(DATA_DB)-wal $(DATA_DB)-shm)
clean-data:
	@if [ -z "$(DATA_FILES)" ]; then echo "clean-data: no $(DATA_DB): nothing to delete"; \
	elif [ "$(CONFIRM)" != 1 ]; then \
		echo "clean-data: would delete $(DATA_FILES): every incident, booking and logged hour in it."; \
		echo "clean-data: refused without CONFIRM=1 (make clean-data CONFIRM=1)"; exit 1; \
	else rm -f $(DATA_FILES) && echo "clean-data: deleted $(DATA_FILES)"; fi
