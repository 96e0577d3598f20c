# Client commands of the one binary. `make build` and `make run` live in
# mk/ops.mk (run: every service in one process on embedded brokers, data
# under var/). The starter-data hook of `make run` is the binary's -starter
# flag (or SWIPEFLIX_STARTER_RATINGS): a ratings file published once, through
# the same path as `make publish`, e.g.
#   make run RUNFLAGS="-starter ../shared/datasets/ml-latest-small/ratings.csv"

.PHONY: publish watch

## publish: stream FILE (a ratings dataset, or NDJSON events with NDJSON=1; - is stdin) into Kafka, RATE events/s at most.
publish: build
	$(BIN)/swipeflix publish $(if $(RATE),-rate $(RATE),) $(if $(NDJSON),-ndjson,) $(FILE)

## watch: print model updates and drift reports as they arrive.
watch: build
	$(BIN)/swipeflix watch
