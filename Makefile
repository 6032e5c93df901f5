# make demo: run the whole graph on the bundled demo data.  make test: the test suite.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
export DAGSTER_HOME := $(CURDIR)/dagster_home
# Playwright drives Debian's /usr/bin/chromium; it must never fetch a browser of its own.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD := 1

.PHONY: demo test check-defs ui bench install clean browser screenshot

$(BIN)/leads: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	@touch $@

install: $(BIN)/leads

demo: install
	$(BIN)/leads demo

test: install browser check-defs
	$(BIN)/pytest -q -n 2

# The Definitions load as `dg` sees them (pyproject's [tool.dg]): what `dg dev` would serve.
check-defs: install
	$(BIN)/dg check defs

# Webserver + daemon. `dagster dev -w workspace.yaml -h 127.0.0.1 -p 3000` serves the same project.
ui: install
	$(BIN)/dg dev --host 127.0.0.1 --port 3000

bench: install
	$(BIN)/python bench/run.py

# Debian's Chromium for the UI test (Playwright drives it; nothing is downloaded by Playwright).
browser:
	@test -x /usr/bin/chromium || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
		|| echo "chromium not installed: the browser test will be skipped"

# docs/ui-asset-graph.png: the asset graph of the demo (run `make demo` first), for docs/operations.md.
screenshot: install browser
	$(BIN)/python -m lead_assets_tests.test_ui_browser --screenshot docs/ui-asset-graph.png

clean:
	rm -rf $(VENV) warehouse.duckdb warehouse.duckdb.lock data exports/*/ dagster_home/storage dagster_home/history dagster_home/schedules dagster_home/logs
