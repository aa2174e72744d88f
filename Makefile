# `make run` and `make test` are all the set-up a fresh machine needs: the first use creates
# .venv and installs the package (editable) with its test tools; later uses reuse it.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: install run test lint browser-deps bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(BIN)/signlive serve

# Debian's chromium drives the browser tests (Playwright's own download does not work here);
# redis-server backs the scale-out test (tests/test_scaleout.py).
browser-deps:
	@command -v chromium >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y chromium; }
	@command -v redis-server >/dev/null 2>&1 || { $(SUDO) apt-get update && $(SUDO) apt-get install -y redis-server; }

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check webapp tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.live_latency

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
