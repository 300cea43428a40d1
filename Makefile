# s3xproxy — see README.md.
GO      ?= go
BIN     ?= bin/s3xproxy
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)

.PHONY: all build run test test-short bench bench-quick fmt lint image-binary fuzz clean soak soak-short replicas replicas-short

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

## soak: 1,000 keep-alive clients for 60 s through the proxy to the emulator
## (test/soak; no -race: the race detector caps goroutines at 8128)
soak:
	S3X_SOAK_DURATION=60s $(GO) test -tags soak -count=1 -timeout 10m -v ./test/soak/

## soak-short: the same for 10 s (CI)
soak-short:
	S3X_SOAK_DURATION=10s $(GO) test -tags soak -count=1 -timeout 5m -v ./test/soak/

## replicas: three `s3xproxy serve` behind HAProxy (/usr/sbin/haproxy):
## SIGKILL and rolling-restart scenarios (test/replicas)
replicas:
	$(GO) test -tags replicas -count=1 -timeout 10m -v ./test/replicas/

## replicas-short: the same with 2-second phases (CI)
replicas-short:
	$(GO) test -tags replicas -short -count=1 -timeout 5m -v ./test/replicas/

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
