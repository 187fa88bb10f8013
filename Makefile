# Switchyard: `make run` builds and starts it, `make test` runs everything CI runs.
GO        ?= go
BIN       := bin/switchyard
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -s -w -X main.version=$(VERSION)
# Packages whose code runs concurrently are tested under the race detector.
RACE_PKGS := ./engine/... ./auth/... ./web/... ./connectors/... ./flows/...
FUZZTIME  ?= 10s

.PHONY: all build run generate generate-check lint test test-race test-e2e fuzz bench bench-ladder bench-peers bench-soak bench-cluster release release-docker clean

all: build

# CGO_ENABLED=0: a static binary (no libc to match where it runs).
build: generate-check
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/switchyard

run: build
	./$(BIN) serve

generate:
	$(GO) tool templ generate

generate-check:
	@if ls web/*.templ web/**/*.templ >/dev/null 2>&1; then $(GO) tool templ generate -check; fi

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# The PostgreSQL tests (engine/pgstore's conformance suite, the cluster
# end-to-end tests) read SWITCHYARD_TEST_DATABASE_URL from the environment
# (.ci/run sets it); without it they skip with a message, under CI=true
# they fail.
test: generate-check lint
	@if [ -z "$$SWITCHYARD_TEST_DATABASE_URL" ]; then echo "note: SWITCHYARD_TEST_DATABASE_URL is not set: the PostgreSQL tests skip"; fi
	$(GO) test -count=1 -timeout 45m ./...
	$(GO) test -count=1 -timeout 30m -race $(RACE_PKGS)
	# A count, not a duration: Go 1.26's fuzz coordinator can report a
	# spurious "context deadline exceeded" when a wall-clock -fuzztime ends
	# (go.dev/issue/75804, fixed in Go 1.27).
	$(MAKE) fuzz FUZZTIME=20000x

# fuzz runs every fuzz target briefly (FUZZTIME each).
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for t in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$t"; \
	    $(GO) test -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) $$pkg; \
	  done; \
	done

# bench: Go benchmarks of the engine and the run-history page, then wrk
# against the real binary next to a bare Fiber handler, then next to its
# peers (Node-RED, n8n; installed with npm on first use). See
# docs/benchmarks.md.
bench:
	$(GO) test -run '^$$' -bench . -benchtime 2s ./engine/...
	$(GO) test -run '^$$' -bench RunHistory -benchtime 200x ./web
	bash bench/run.sh
	bash bench/bulk.sh
	bash bench/flood.sh
	bash bench/peers.sh

# bench-peers: only the comparison with Node-RED and n8n.
bench-peers:
	bash bench/peers.sh

# bench-soak: memory and disk over 1,000,000 W0 events (BENCH_SOAK_EVENTS),
# sampled every 50,000, charted in docs/soak.svg (bench/soak.sh).
bench-soak:
	bash bench/soak.sh

# bench-cluster: ingest into PostgreSQL with one and two nodes against one
# bbolt node, same run, CPU per event (bench/cluster.sh; needs a PostgreSQL
# server: BENCH_DATABASE_URL, default the local one); then the W0/W1
# comparison of bench/peers.sh with Switchyard on bbolt and on PostgreSQL.
bench-cluster:
	bash bench/cluster.sh
	BENCH_STORES="bolt pg" BENCH_PEERS=node-red bash bench/peers.sh

# bench-ladder: where the distance to the bare handler goes, level by level
# (docs/benchmarks.md).
bench-ladder:
	bash bench/ladder.sh

# release: static binaries for linux/amd64, linux/arm64, darwin/arm64 and
# windows/amd64 in dist/, as archives with LICENSE and README, and
# dist/SHA256SUMS; VERSION is stamped into each (packaging/release.sh).
release: generate-check
	VERSION=$(VERSION) GO=$(GO) bash packaging/release.sh

# release-docker: the container image switchyard:$(VERSION) from the
# Dockerfile; skips with a message where no Docker engine runs.
release-docker:
	VERSION=$(VERSION) bash packaging/release-docker.sh

clean:
	rm -rf bin dist
