# s3xproxy — see README.md.
GO      ?= go
BIN     ?= bin/s3xproxy
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-short bench bench-quick fmt lint image-binary fuzz clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/s3xproxy

## run: the emulator and the proxy in one process with a demo config
run: build
	./$(BIN) dev

## test: vet, then every test with the race detector (the CI command)
test:
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 15m ./...

test-short:
	$(GO) test -short ./...

## bench: the full benchmark harness (writes BENCHMARKS.md figures)
bench:
	$(GO) run ./test/bench --json test/bench/results.json --md BENCHMARKS.md --chart test/bench/throughput.svg

bench-quick:
	$(GO) run ./test/bench --quick

fmt:
	gofmt -w $$(git ls-files '*.go')

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt: $$out"; exit 1; fi
	$(GO) vet ./...

## image-binary: the static binary the Docker image ships
image-binary:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/s3xproxy-static ./cmd/s3xproxy

clean:
	rm -rf bin
