# certsmith: `make demo` (issue a certificate from a local Pebble CA) and `make test` (everything).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CERTBOT_VENV := .venv-certbot
PYTEST_ARGS ?=

.PHONY: setup system-packages pebble venv certbot-venv lint test unit demo bench clean

setup: system-packages pebble venv certbot-venv

# Debian packages the tests use: BIND9 for dns-01 (RFC 2136), nginx for the web-server deploy
# test (tests/support/nginx.py), apache2 for the apache installer (tests/support/apache.py).
# Installed only when missing; without root, their tests skip.
system-packages:
	@missing=""; \
	command -v named >/dev/null 2>&1 || [ -x /usr/sbin/named ] || missing="bind9 bind9-utils"; \
	command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing="$$missing nginx"; \
	command -v apache2 >/dev/null 2>&1 || [ -x /usr/sbin/apache2 ] || missing="$$missing apache2"; \
	[ -z "$$missing" ] || { \
	  [ "$$(id -u)" = 0 ] && (apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing >/dev/null) \
	  || echo "note: not installed:$$missing; their tests will be skipped"; }

pebble:
	@./tools/fetch-pebble.sh

$(BIN)/certsmith: pyproject.toml
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	@touch $@

venv: $(BIN)/certsmith

$(CERTBOT_VENV)/bin/certbot:
	$(PY) -m venv $(CERTBOT_VENV)
	$(CERTBOT_VENV)/bin/pip install -q certbot==5.8.0

certbot-venv: $(CERTBOT_VENV)/bin/certbot

lint: venv
	$(BIN)/ruff check src tests tools bench
	$(BIN)/ruff format --check src tests tools bench
	$(BIN)/mypy src

test: setup lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

demo: pebble venv
	$(BIN)/python tools/demo.py

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(CERTBOT_VENV) .cache demo-out
