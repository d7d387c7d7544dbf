# certsmith: `make demo` (issue a certificate from a local Pebble CA) and `make test` (everything).
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
CERTBOT_VENV := .venv-certbot
PYTEST_ARGS ?=

.PHONY: setup system-packages pebble venv certbot-venv lint test corpus unit demo bench clean

setup: system-packages pebble venv certbot-venv

# Debian packages the tests use (BIND9, nginx, apache2), installed when missing, as root only.
system-packages:
	@./tools/install-system-packages.sh

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
	$(CERTBOT_VENV)/bin/pip install -q certbot==5.8.0 certbot-nginx==5.8.0 certbot-apache==5.8.0 certbot-dns-cloudflare==5.8.0

certbot-venv: $(CERTBOT_VENV)/bin/certbot

lint: venv
	$(BIN)/ruff check src tests tools bench
	$(BIN)/ruff format --check src tests tools bench
	$(BIN)/mypy src

test: setup lint
	$(BIN)/python -m pytest -q -n 2 --dist loadfile -m "not corpus" $(PYTEST_ARGS)

# The certbot command-line corpus (issue 14): slow, every line through certbot 5.8.0 too.
corpus: setup
	$(BIN)/python -m pytest -q -m corpus tests/integration/test_certbot_corpus.py $(PYTEST_ARGS)

unit: venv
	$(BIN)/python -m pytest -q tests/unit $(PYTEST_ARGS)

demo: pebble venv
	$(BIN)/python tools/demo.py

bench: setup
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) $(CERTBOT_VENV) .cache demo-out
