# The two commands a new user runs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum pyproject.toml | cut -d' ' -f1)

.PHONY: run test lint format bench browser clean messages

$(STAMP): pyproject.toml
	@test -n "$(PYTHON)" || { echo "newsbot needs Python 3.11 or newer (python3.11+ on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@

run: $(STAMP)
	$(BIN)/python bot.py

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

test: lint browser
	$(BIN)/python -m pytest

format: $(STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After changing a string a person sees: extract the messages into newsbot/locale/newsbot.pot
# and merge them into each language's catalog (new ones arrive empty: translate them; a test
# fails until every language has them).
messages: $(STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header -k N_ \
	  -o newsbot/locale/newsbot.pot .
	$(BIN)/pybabel -q update -i newsbot/locale/newsbot.pot -d newsbot/locale -D newsbot \
	  --no-fuzzy-matching --ignore-obsolete -w 99

bench: $(STAMP)
	$(BIN)/python -m bench

# The browser test needs Debian's chromium; install it when it is missing and we may.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing chromium for the browser test"; \
	    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq chromium >/dev/null || echo "could not install chromium"; \
	  else echo "chromium is missing: the browser test will be skipped"; fi; }

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
