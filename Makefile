# Entry points: make run, make test, make bench, make lint. Everything sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/gen
PACKAGES := libs/portal_common libs/portal_stack services/auth services/crm services/projects services/invoicing services/events
PROTOS := $(shell find protos -name '*.proto')

.PHONY: run test bench lint setup clean

run: setup
	$(PY) -m portal_stack

# The suite on SQLite; then on PostgreSQL too when PORTAL_TEST_POSTGRES_URL names a server.
test: setup
	$(PY) -m pytest -q
	@if [ -n "$$PORTAL_TEST_POSTGRES_URL" ]; then \
		echo "== the suite again on PostgreSQL ($$PORTAL_TEST_POSTGRES_URL)"; \
		PORTAL_TEST_DATABASE=postgres $(PY) -m pytest -q; \
	fi

# CRM reads beside the gateway's ceiling, projects reads, invoice PDFs, creates, invoice emails, payment webhooks,
# outbound webhook deliveries (see bench/README.md).
bench: setup
	$(PY) bench/run.py
	$(PY) bench/projects_reads.py
	$(PY) bench/invoice_pdf.py --http
	$(PY) bench/writes.py
	$(PY) bench/email_sends.py
	$(PY) bench/webhooks.py
	$(PY) bench/webhook_delivery.py

# Invoice PDFs embed these fonts from Debian's packages.
FONTS := /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf /usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf

# Formatting, import order and bug rules (ruff.toml), types (mypy.ini), and the protos: buf lint and
# buf breaking against LINT_AGAINST (the previous commit by default; see docs/decisions.md, 35).
BUF := build/tools/node_modules/.bin/buf
LINT_AGAINST ?= HEAD~1

lint: setup $(BUF)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(PY) protos/lint.py $(BUF) $(LINT_AGAINST)

# buf from the npm registry (its package carries the binary).
$(BUF):
	npm install --silent --no-audit --no-fund --prefix build/tools @bufbuild/buf@1.75.0

setup: $(VENV)/.installed $(GEN)/.generated $(FONTS)

$(FONTS):
	apt-get update -q && apt-get install -y -q fonts-dejavu-core fonts-droid-fallback

$(VENV)/.installed: requirements.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --disable-pip-version-check -r requirements.txt $(addprefix -e ,$(PACKAGES))
	$(PY) -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'portal_generated.pth').write_text(str(pathlib.Path('$(GEN)').resolve()) + '\n')"
	touch $@

$(GEN)/.generated: $(VENV)/.installed $(PROTOS) protos/generate.py
	$(PY) protos/generate.py
	touch $@

# Issue 13 (A): the OpenAPI 3.1 description, generated from the descriptor set Envoy loads (docs/api.md, "OpenAPI").
OPENAPI := build/openapi.json
setup: $(OPENAPI)

$(OPENAPI): $(GEN)/.generated libs/portal_stack/src/portal_stack/openapi.py
	$(PY) -m portal_stack.openapi $(GEN)/portal.pb $@

clean:
	rm -rf $(VENV) build
