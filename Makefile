# pagerd: `make run` starts the daemon on the example config; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= config/pagerd.example.yaml
export PAGERD_LISTEN ?= 127.0.0.1:8080
# Development secrets for `make run` only: published here, so `pagerd serve` refuses them unless it listens
# on loopback (pager/config/secrets.py lists them). A deployment sets its own (README: Security).
export PAGERD_WEBHOOK_TOKEN ?= make-run-development-webhook-token-not-a-secret
export PAGERD_ADMIN_TOKEN ?= make-run-development-admin-token-not-a-secret
export PAGERD_SIGNING_KEY ?= make-run-development-signing-key-not-a-secret
DEV_SECRETS := $(foreach v,PAGERD_WEBHOOK_TOKEN PAGERD_ADMIN_TOKEN PAGERD_SIGNING_KEY,$(if $(filter file,$(origin $(v))),$(v)))
# every page simulated on purpose: logged and recorded as `simulated`, never sent
export PAGERD_NOTIFIER ?= dry_run

.PHONY: run test bench bench-full-node venv peers clean check-config

venv: $(STAMP)

$(STAMP): pyproject.toml
	@$(PYTHON) -m venv $(VENV) 2>/dev/null || { apt-get install -y -qq python3-venv >/dev/null && $(PYTHON) -m venv $(VENV); }
	@$(PY) -m pip install -q --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install -q --disable-pip-version-check -e '.[test]'
	@touch $(STAMP)

run: venv
	@mkdir -p var
	@$(VENV)/bin/pagerd check-config $(CONFIG)
	@$(VENV)/bin/pagerd migrate -c $(CONFIG)
	@echo
	@echo "pagerd is starting on http://$(PAGERD_LISTEN) (notifier: $(PAGERD_NOTIFIER), SQLite in $${PAGERD_DB:-var/pagerd.db})."
	@$(if $(DEV_SECRETS),echo "It uses the Makefile's DEVELOPMENT secrets for $(DEV_SECRETS) (published, accepted on loopback only): never deploy them.")
	@echo "Fire a test alert:"
	@echo "  curl -sS -X POST http://$(PAGERD_LISTEN)/api/v1/alerts/alertmanager \\"
	@echo "    -H 'Authorization: Bearer $(PAGERD_WEBHOOK_TOKEN)' -H 'Content-Type: application/json' \\"
	@echo "    -d @tests/testdata/alertmanager/firing.json"
	@echo "See it:"
	@echo "  curl -sS -H 'Authorization: Bearer $(PAGERD_ADMIN_TOKEN)' http://$(PAGERD_LISTEN)/api/v1/incidents"
	@echo
	@exec $(VENV)/bin/pagerd serve -c $(CONFIG)

check-config: venv
	@$(VENV)/bin/pagerd check-config $(CONFIG)

peers:
	@scripts/peers.sh all

test: venv peers
	@$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

bench: venv peers
	@$(PY) bench/run.py

# the full node (paging on) of git revision BEFORE and of this tree, side by side in paired rounds
bench-full-node: venv peers
	@BEFORE=$(BEFORE) $(PY) bench/full_node.py

clean:
	rm -rf $(VENV) var build *.egg-info
