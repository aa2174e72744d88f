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
# redis-server backs the scale-out test (tests/test_scaleout.py). Where apt cannot install
# them, say so and go on: those tests then skip with the reason.
apt_install = command -v $(1) >/dev/null 2>&1 \
	|| { $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq $(1); } \
	|| echo "WARNING: could not install $(1): $(2) will skip" >&2
browser-deps:
	@$(call apt_install,chromium,the browser tests)
	@$(call apt_install,redis-server,the scale-out test)

test: $(STAMP) browser-deps
	$(BIN)/python -m pytest

lint: $(STAMP)
	$(BIN)/ruff check webapp tests bench

bench: $(STAMP)
	$(BIN)/python -m bench.live_latency

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
