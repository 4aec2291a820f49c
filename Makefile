# Two commands do all the set-up on a fresh machine: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432
PORT ?= 8000

.PHONY: install system-deps postgres run test bench clean

install: $(STAMP) system-deps

# The venv is rebuilt only when the dependency list or its pins change.
$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

# Debian packages the project needs: a CJK font embedded in the PDF reports; Chromium and the Noto CJK fonts
# for the console's browser tests (Playwright drives /usr/bin/chromium: it cannot download a browser here).
system-deps:
	@if [ ! -x /usr/bin/chromium ] || ! fc-list 2>/dev/null | grep -qi "Noto Sans CJK"; then \
	  echo "installing chromium and fonts-noto-cjk (the console's browser tests)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi
	@if ! fc-list 2>/dev/null | grep -qi "WenQuanYi Micro Hei" && [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ]; then \
	  echo "installing fonts-wqy-microhei (CJK font for PDF reports)"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq fonts-wqy-microhei >/dev/null; \
	fi

# PostgreSQL must be up for the test suite's PostgreSQL half.
postgres:
	@if ! pg_isready -q -h $(PG_HOST) -p $(PG_PORT); then \
	  echo "starting PostgreSQL"; \
	  pg_ctlcluster --skip-systemctl-redirect $$(ls /etc/postgresql | head -n 1) main start; \
	fi
	@for i in $$(seq 1 30); do pg_isready -q -h $(PG_HOST) -p $(PG_PORT) && exit 0; sleep 1; done; \
	  echo "PostgreSQL did not come up on $(PG_HOST):$(PG_PORT)"; exit 1

test: install postgres
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy dispatch service/lifecycle
	$(BIN)/python -m pytest

# `make run PORT=8080` to serve elsewhere. Running it again is safe: the migration (every command migrates
# first) and the seed add only what is missing, and the earlier run's demo tokens are revoked for the new ones.
run: install
	$(BIN)/homecare seed guandu
	@echo "the demo tokens (admin, operator, provider 1, Guandu's regulator); paste this line in your terminals:"
	@$(BIN)/homecare token demo
	@echo "export API=http://127.0.0.1:$(PORT)/api/v1"
	@$(BIN)/homecare user demo
	@echo "the console: http://127.0.0.1:$(PORT)/ (log in with one of the users above)"
	$(BIN)/homecare serve --host 127.0.0.1 --port $(PORT)

bench: install postgres
	$(BIN)/python -m benchmarks.dispatch

clean:
	rm -rf $(VENV) var
