# SwipeFlix. `make run` starts everything on embedded brokers; `make test` runs every test.
SHELL := /bin/bash
GO ?= go
MODULES := ./pkg/... ./services/api/... ./services/drift/... ./services/ingest/... ./services/trainer/... ./cmd/swipeflix/... ./deploy/...
DATA ?= ../shared/datasets/ml-100k
# make run publishes starter data once: ../shared/datasets/ml-latest-small when present, else a generated sample.
RUNFLAGS ?= -starter auto

.PHONY: test test-short eval bench bench-freshness bench-scale fmt lint tidy

## test: every test of every module with the race detector, then the
## real-data evaluations (skipped under -race; they skip when ../shared/datasets is absent).
test:
	$(GO) test -race -count=1 -timeout 30m $(MODULES)
	$(GO) test -count=1 -timeout 30m -run 'ML100K|MLLatestSmall|DetectionAndFalseAlarms|MovieLensShuffled|StarterDataInOneGo|GeneratedStarterSample' ./pkg/eval/ ./pkg/deck/ ./pkg/drift/

## test-short: the tests that need no server at all.
test-short:
	$(GO) test -short -count=1 $(MODULES)

## eval: the evaluation table over DATA (JSON=1 for one JSON object).
eval:
	$(GO) run ./cmd/swipeflix eval -data $(DATA) $(if $(JSON),-json,) $(EVALFLAGS)

## bench: the benchmarks of the hot paths.
bench:
	$(GO) test -run '^$$' -bench . -benchmem $(BENCHFLAGS) ./pkg/...

## bench-freshness: a swipe posted to ingest until /predict changes, 200 times (all services in process).
bench-freshness:
	$(GO) test -run '^$$' -bench Freshness -benchtime 200x ./cmd/swipeflix/

## bench-scale: the whole loop at SIZE ratings (1M, 10M or 25M; data generated once under var/bench-scale)
## on embedded brokers, the trainer and api as their own processes; JSON=1 for one JSON object (docs/scale.md).
SIZE ?= 1M
bench-scale: build
	$(BIN)/swipeflix bench-scale -size $(SIZE) $(if $(JSON),-json,) $(BENCHSCALEFLAGS)

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet $(MODULES)

tidy:
	for m in $$($(GO) list -m -f '{{.Dir}}'); do (cd $$m && $(GO) mod tidy); done

-include mk/*.mk
