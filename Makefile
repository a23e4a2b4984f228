# pagerd: `make run` starts the daemon on the example config; `make test` runs the whole suite.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CONFIG ?= config/pagerd.example.yaml
export PAGERD_LISTEN ?= 127.0.0.1:8080
export PAGERD_WEBHOOK_TOKEN ?= dev-webhook-token
export PAGERD_ADMIN_TOKEN ?= dev-admin-token

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
	@echo "pagerd is starting on http://$(PAGERD_LISTEN) (dry-run notifier, SQLite in $${PAGERD_DB:-var/pagerd.db})."
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
