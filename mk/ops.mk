# Operations targets: build, run, images, compose, load test and the checks of deploy/.
# Included by the root Makefile (which defines GO, MODULES, DATA, test, eval, bench, fmt, lint, tidy).

BIN ?= bin
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null || echo unknown)
REGISTRY ?= ghcr.io/swipeflix
IMAGES := api ingest trainer drift swipeflix
DATA_FULL ?= ../shared/datasets/ml-latest-small

COMPOSE ?= docker-compose
PROFILE ?= dev
COMPOSE_ENV ?= deploy/compose/dev.env

API_URL ?= http://localhost:8000
K6_VERSION ?= v1.8.1
STATICCHECK_VERSION ?= v0.8.2
GOVULNCHECK_VERSION ?= v1.9.0
TFLINT_VERSION ?= v0.64.0
COVER_MIN ?= 80
# The docker provider has no Go-module tags; this pseudo-version is its v4.6.0 release line.
TF_DOCKER_PROVIDER ?= github.com/kreuzwerker/terraform-provider-docker@v0.0.0-20260916201441-96d331c98ff4

.PHONY: build dev run start train train-full docker-build docker-run compose-up compose-down \
	compose-config ops-check cover staticcheck govulncheck precommit loadtest k6 terraform-provider tflint clean

## build: the one binary and the thin service mains into bin/.
build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/swipeflix ./cmd/swipeflix
	for s in api ingest trainer drift; do \
	  $(GO) build -ldflags "-X main.version=$(VERSION)" -o $(BIN)/$$s ./services/$$s || exit 1; \
	done

## dev: download every module's dependencies, build the binaries and k6.
dev: k6
	for m in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$m && $(GO) mod download) || exit 1; done
	$(MAKE) build

## run: everything in one process on embedded brokers (start is the seed's name for it).
run: build
	$(BIN)/swipeflix -target=all $(RUNFLAGS)

start: run

## train: one-shot training on DATA (ml-100k by default); train-full on DATA_FULL.
train:
	$(GO) run ./cmd/swipeflix train -data $(DATA) $(TRAINFLAGS)

train-full:
	$(GO) run ./cmd/swipeflix train -data $(DATA_FULL) $(TRAINFLAGS)

## docker-build: one image per service and one for the binary (deploy/docker/*.Dockerfile).
docker-build:
	for i in $(IMAGES); do \
	  name=$$( [ $$i = swipeflix ] && echo swipeflix || echo swipeflix-$$i ); \
	  docker build -f deploy/docker/$$i.Dockerfile \
	    --build-arg VERSION=$(VERSION) --build-arg REVISION=$(REVISION) \
	    -t $(REGISTRY)/$$name:$(VERSION) . || exit 1; \
	done

## docker-run: the one-binary image, every service in one container, embedded brokers.
docker-run:
	docker run --rm -p 8000-8003:8000-8003 -v swipeflix-data:/data $(REGISTRY)/swipeflix:$(VERSION)

## compose-up / compose-down: the compose stack of PROFILE (dev, test, prod) with COMPOSE_ENV.
compose-up:
	$(COMPOSE) --env-file $(COMPOSE_ENV) --profile $(PROFILE) up -d --build

compose-down:
	$(COMPOSE) --env-file $(COMPOSE_ENV) --profile dev --profile test --profile prod down --remove-orphans

## compose-config: validate the compose file for every profile.
compose-config:
	for p in dev test prod; do $(COMPOSE) --env-file $(COMPOSE_ENV) --profile $$p config -q || exit 1; done

## ops-check: the deploy/ tests (compose-go, BuildKit parser, promtool, Grafana, k6, HCL, actionlint).
ops-check:
	$(GO) test -count=1 ./deploy/...

## cover: every test with the race detector and a coverage profile (coverage.out), failing when
## the total is under COVER_MIN percent (CI's gate).
cover:
	$(GO) test -race -count=1 -timeout 30m -covermode=atomic -coverprofile=coverage.out $(MODULES)
	@total=$$($(GO) tool cover -func=coverage.out | awk '/^total:/ { sub("%", "", $$3); print $$3 }'); \
	echo "total coverage: $$total% (minimum $(COVER_MIN)%)"; \
	awk -v t="$$total" -v min="$(COVER_MIN)" 'BEGIN { exit !(t >= min) }' || { echo "coverage $$total% is below $(COVER_MIN)%"; exit 1; }

staticcheck:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) $(MODULES)

govulncheck:
	for m in $$($(GO) list -m -f '{{.Dir}}'); do \
	  (cd $$m && $(GO) run golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION) ./...) || exit 1; \
	done

## precommit: what CI's lint job checks, plus the operations checks.
precommit: lint staticcheck ops-check

## loadtest: k6 against API_URL (start the api first: make run). K6FLAGS adds k6 options.
loadtest: k6
	API_URL=$(API_URL) $(BIN)/k6 run $(K6FLAGS) k6/script.js

## k6: build k6 into bin/ once per K6_VERSION.
k6: $(BIN)/.k6-$(K6_VERSION)

$(BIN)/.k6-$(K6_VERSION):
	mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN)) GOWORK=off $(GO) install go.k6.io/k6@$(K6_VERSION)
	touch $@

## terraform-provider: build the docker provider into bin/ so `terraform validate` runs
## without the Terraform registry (deploy's test uses it through dev_overrides).
terraform-provider:
	dir=$$($(GO) mod download -json $(TF_DOCKER_PROVIDER) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -n "$$dir" || { echo "cannot download $(TF_DOCKER_PROVIDER)"; exit 1; }; \
	cd $$dir && GOWORK=off $(GO) build -trimpath -o $(abspath $(BIN))/terraform-provider-docker .

## tflint: build tflint into bin/ (deploy's test runs it on terraform/ with terraform/.tflint.hcl).
tflint: $(BIN)/.tflint-$(TFLINT_VERSION)

$(BIN)/.tflint-$(TFLINT_VERSION):
	mkdir -p $(BIN)
	GOBIN=$(abspath $(BIN)) GOWORK=off $(GO) install github.com/terraform-linters/tflint@$(TFLINT_VERSION)
	touch $@

## clean: build outputs and coverage files (the data folder var/ stays: rm -rf var to reset).
clean:
	rm -rf $(BIN) coverage*.out coverage*.txt k6-summary.json
