# graceline — build, test and demo. `make test` and `make demo` install what
# they need (hack/install-deps.sh) and must pass as root on a fresh clone.

SHELL := /bin/bash
BIN := $(CURDIR)/_output/bin
export PATH := $(BIN):$(PATH)
GO ?= go
# The runtime e2e package runs four runtimes one after another: about
# 35 minutes here.
GOTEST_TIMEOUT ?= 60m
# How many inputs each fuzz target runs in `make test` (10-30 s here). A
# count, not a duration: with a duration, Go 1.26's fuzz coordinator can fail
# a target with a bare "context deadline exceeded" when the time runs out
# while a worker is busy (golang/go#75804, fixed in Go 1.27).
FUZZTIME ?= 200000x

.PHONY: all deps k8s jaeger otelcol scaleout build images generate check-generated lint test fuzz e2e bench demo cluster-up cluster-down clean

all: build

deps:
	@bash hack/install-deps.sh

# kubelet, kube-apiserver, kube-controller-manager and kube-scheduler for the
# real-cluster tests, in _output/k8s/bin; about 15 minutes the first time,
# nothing to do after that.
k8s:
	@bash hack/build-k8s.sh

# The Jaeger v2 all-in-one that the OTLP export test sends traces to, in
# _output/jaeger/bin; built from the module proxy through a wrapper module
# (hack/build-jaeger.sh), about an hour on a loaded 2-core machine the
# first time, nothing to do after that.
jaeger:
	@bash hack/build-jaeger.sh

# The OpenTelemetry Collector of the scale-out path (OTLP in, the
# loadbalancing exporter out), in _output/otelcol/bin; built with the
# collector builder (ocb) from the module proxy by hack/build-otelcol.sh.
otelcol:
	@bash hack/build-otelcol.sh

# The scale-out path, tried once: the real collector exports to otelcol,
# which load-balances the traces by trace ID over two real Jaegers. Not part
# of `make test`: the test builds only with the scaleout tag.
scaleout: jaeger otelcol
	$(GO) test -tags scaleout -count=1 -v -run TestTracesAreLoadBalancedByTraceIDOverTwoJaegers ./test/scaleout

# What --version prints and the images' labels say: the chart's appVersion
# (the tag the manifests run), the commit, and the commit's time, so that
# two builds of one commit are the same.
VERSION ?= $(shell sed -n 's/^appVersion: *"\{0,1\}\([^"]*\)"\{0,1\}$$/\1/p' deploy/helm/graceline/Chart.yaml)
REVISION ?= $(shell git rev-parse HEAD 2>/dev/null)$(shell git diff --quiet HEAD -- 2>/dev/null || echo -dirty)
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null)
export SOURCE_DATE_EPOCH
LDFLAGS := -X github.com/graceline/graceline/internal/version.version=$(VERSION) -X github.com/graceline/graceline/internal/version.revision=$(REVISION)

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o $(BIN)/ ./cmd/...

# OCI image layout tarballs of graceline-agent and graceline-collector, each
# an index for linux/amd64 and linux/arm64, in _output/images; built without
# Docker (hack/images, go-containerregistry), the same bytes for one commit.
# Push one with: go run ./hack/images push _output/images/graceline-agent.tar REGISTRY/graceline-agent:$(VERSION)
images:
	$(GO) run ./hack/images build --out _output/images --version $(VERSION) --revision $(REVISION)

# Regenerate the protobuf code, the eBPF objects (bpf2go, clang), the
# aggregated API's OpenAPI schemas (openapi-gen) and the
# kustomize monitoring component's rule and dashboard (from the Helm chart's
# files/, their one home); the output is committed.
generate: deps
	$(GO) generate ./api/... ./bpf/... ./collector/aggapi/
	GRACELINE_UPDATE_GENERATED=1 $(GO) test -count=1 -run TestMonitoringComponentIsGenerated ./deploy

# Fails when the committed generated code is not what the sources produce,
# or when generated files are not committed at all.
check-generated: generate
	@if [ -n "$$(git status --porcelain -- api/ bpf/ collector/aggapi/ deploy/kustomize/components/monitoring/)" ]; then git status --short -- api/ bpf/ deploy/kustomize/components/monitoring/; git diff -- api/ bpf/ deploy/kustomize/components/monitoring/ | head -50; \
		echo "generated code is stale or uncommitted: run 'make generate' and commit"; exit 1; fi

lint: deps
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags scaleout ./test/scaleout
	staticcheck ./...
	staticcheck -tags scaleout ./test/scaleout

# The e2e tests start real containerd 1.6 and 2.x daemons, and a real
# single-node Kubernetes, and need root.
e2e: deps k8s jaeger
	$(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) -v ./test/e2e ./test/cluster

# test/cluster starts a real single-node Kubernetes; it needs root too. It
# runs on its own, verbose, so that the log shows the cluster's start-up time
# and what the real kubelet did to each pod.
# Unit packages run under the race detector; the suites that drive real
# processes (test/...) run without it, as they measure and wait on them.
UNIT_PKGS = $$($(GO) list ./... | grep -v /test/)

test: deps k8s jaeger lint check-generated
	$(GO) test -race -count=1 -timeout $(GOTEST_TIMEOUT) $(UNIT_PKGS)
	$(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) $$($(GO) list ./test/... | grep -v /test/cluster)
	$(GO) test -count=1 -timeout $(GOTEST_TIMEOUT) -v ./test/cluster
	$(MAKE) fuzz

# Fuzzes the spool's record reader and the collector's ingest decoding for
# FUZZTIME each. A failing input is saved under testdata/fuzz and then
# replayed by every `go test` run.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzRecordReader$$' -fuzztime $(FUZZTIME) ./agent/spool
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeBatch$$' -fuzztime $(FUZZTIME) ./collector/ingest

# Ingest throughput (events/s), timeline query latency over 1,000,000 and
# 10,000,000 stored events (p50-ms, p99-ms, with the database's size), and
# the eBPF probes' overhead (which runs its own rounds, so once is enough).
# Packages run one at a time (-p 1): go test runs packages' benchmarks side
# by side otherwise, and each latency and CPU figure would include another
# package's load.
bench: deps
	$(GO) test -p 1 -run '^$$' -bench . -benchtime 1x ./bpf/...
	$(GO) test -p 1 -run '^$$' -bench . -benchmem $$($(GO) list ./... | grep -v /bpf/)

# A real single-node cluster with graceline installed as a user installs it
# (the images hack/images builds, imported into the node's containerd; the
# Helm chart with the node's paths), pods deleted through the API, and their
# timelines read with kubectl-graceline through a port-forward.
demo: deps k8s
	$(GO) run ./test/demo

# A real single-node cluster to try things by hand; it runs in the background
# until `make cluster-down`. The state file names its kubeconfig.
CLUSTER_STATE ?= $(CURDIR)/_output/cluster/state.json
cluster-up: deps k8s
	$(GO) build -o $(BIN)/ ./cmd/... ./test/cluster/cmd/graceline-cluster
	$(BIN)/graceline-cluster up --detach --state $(CLUSTER_STATE)

cluster-down:
	$(GO) build -o $(BIN)/ ./test/cluster/cmd/graceline-cluster
	$(BIN)/graceline-cluster down --state $(CLUSTER_STATE)

clean:
	rm -rf _output
