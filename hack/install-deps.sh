#!/usr/bin/env bash
# Installs everything graceline's tests and demo need on a fresh Debian 12 machine.
# Idempotent: a second run only checks, so `make test` can call it every time.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
bin="$root/_output/bin"
mkdir -p "$bin"

CONTAINERD2_VERSION=${CONTAINERD2_VERSION:-v2.4.2}
CONTAINERD17_VERSION=${CONTAINERD17_VERSION:-v1.7.35}
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}
COREDNS_VERSION=${COREDNS_VERSION:-v1.15.0}
# protoc-gen-go follows the google.golang.org/protobuf version pinned in go.mod.
PROTOC_GEN_GO_VERSION=$(cd "$root" && go list -m -f '{{.Version}}' google.golang.org/protobuf)
# protoc-gen-go-grpc is its own module; its output needs the grpc in go.mod to be
# at least as new as this generator expects.
PROTOC_GEN_GO_GRPC_VERSION=${PROTOC_GEN_GO_GRPC_VERSION:-v1.6.2}

log() { printf '[install-deps] %s\n' "$*" >&2; }

# etcd-server, iptables, conntrack and nfacct are for the real single-node
# cluster (test/cluster), whose kube-proxy makes netfilter accounting objects
# that its teardown removes; its Kubernetes binaries come from
# hack/build-k8s.sh.
# ca-certificates gives make images the CA bundle it puts in the images.
# prometheus gives promtool, which checks and tests the shipped alerts
# (deploy/rules_test.go), and the prometheus server that test/cluster runs
# against the collector.
# chromium is the real headless browser that test/ui drives through chromedp.
debs=(containerd runc busybox-static containernetworking-plugins iproute2 util-linux protobuf-compiler libprotobuf-dev clang llvm libbpf-dev
	etcd-server iptables conntrack nfacct ca-certificates prometheus chromium)
missing=()
for p in "${debs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
	if [ "$(id -u)" != 0 ]; then
		log "need root to apt-get install: ${missing[*]}"
		exit 1
	fi
	log "apt-get install ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# The Debian packages start a system containerd, etcd and prometheus;
# graceline's tests run their own private daemons and must never touch (or be
# confused by) them.
for svc in containerd etcd prometheus; do
	if systemctl is-active --quiet "$svc" 2>/dev/null; then
		systemctl stop "$svc" || true
		systemctl disable "$svc" >/dev/null 2>&1 || true
	fi
done

# containerd 2.x and its shim, built from the module proxy. The shim must sit beside
# containerd: the harness puts this directory first on the daemon's PATH so that the
# 2.x daemon never picks Debian's 1.6 shim.
want="containerd github.com/containerd/containerd/v2 $CONTAINERD2_VERSION"
if [ ! -x "$bin/containerd" ] || [ ! -x "$bin/containerd-shim-runc-v2" ] || [ "$(cat "$bin/.containerd2" 2>/dev/null)" != "$want" ]; then
	log "building containerd $CONTAINERD2_VERSION (a few minutes on first run)"
	GOBIN="$bin" CGO_ENABLED=0 go install \
		"github.com/containerd/containerd/v2/cmd/containerd@$CONTAINERD2_VERSION" \
		"github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2@$CONTAINERD2_VERSION"
	echo "$want" >"$bin/.containerd2"
fi

# containerd 1.7 and its shim, for the runtime e2e tests: the runtime of many
# managed clusters, whose CRI event stream graceline must leave to the
# kubelet. Its go.mod has exclude directives, which go install refuses, so it
# is built as the main module from a writable copy of the downloaded module.
# The binaries get a directory of their own, which the harness puts first on
# the daemon's PATH so that 1.7 runs its own shim.
ctd17="$root/_output/containerd17"
want="containerd github.com/containerd/containerd $CONTAINERD17_VERSION"
if [ ! -x "$ctd17/containerd" ] || [ ! -x "$ctd17/containerd-shim-runc-v2" ] || [ "$(cat "$ctd17/.version" 2>/dev/null)" != "$want" ]; then
	log "building containerd $CONTAINERD17_VERSION (a few minutes on first run)"
	src=$(cd "$root" && go mod download -json "github.com/containerd/containerd@$CONTAINERD17_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
	if [ -z "$src" ]; then
		log "go mod download github.com/containerd/containerd@$CONTAINERD17_VERSION gave no directory"
		exit 1
	fi
	# A fixed place, so that a second build in this checkout finds its
	# packages in the Go build cache.
	work="$root/_output/containerd17-src"
	rm -rf "$work"
	mkdir -p "$work"
	cp -r "$src/." "$work/"
	chmod -R u+w "$work"
	mkdir -p "$ctd17"
	(cd "$work" && GOFLAGS= CGO_ENABLED=0 go build -mod=mod -o "$ctd17/" ./cmd/containerd ./cmd/containerd-shim-runc-v2)
	rm -rf "$work"
	echo "$want" >"$ctd17/.version"
fi

# CoreDNS, the cluster DNS of the real single-node cluster (test/cluster):
# pods there resolve Service names as on any node. Its go.mod has no replace
# lines, so it installs straight from the module proxy (about 5 minutes the
# first time).
if [ ! -x "$bin/coredns" ] || [ "$(cat "$bin/.coredns" 2>/dev/null)" != "$COREDNS_VERSION" ]; then
	log "building coredns $COREDNS_VERSION (a few minutes on first run)"
	GOBIN="$bin" CGO_ENABLED=0 go install "github.com/coredns/coredns@$COREDNS_VERSION"
	echo "$COREDNS_VERSION" >"$bin/.coredns"
fi

if [ ! -x "$bin/staticcheck" ] || [ "$(cat "$bin/.staticcheck" 2>/dev/null)" != "$STATICCHECK_VERSION" ]; then
	log "installing staticcheck $STATICCHECK_VERSION"
	GOBIN="$bin" go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
	echo "$STATICCHECK_VERSION" >"$bin/.staticcheck"
fi
if [ ! -x "$bin/protoc-gen-go" ] || [ "$(cat "$bin/.protoc-gen-go" 2>/dev/null)" != "$PROTOC_GEN_GO_VERSION" ]; then
	log "installing protoc-gen-go $PROTOC_GEN_GO_VERSION"
	GOBIN="$bin" go install "google.golang.org/protobuf/cmd/protoc-gen-go@$PROTOC_GEN_GO_VERSION"
	echo "$PROTOC_GEN_GO_VERSION" >"$bin/.protoc-gen-go"
fi
if [ ! -x "$bin/protoc-gen-go-grpc" ] || [ "$(cat "$bin/.protoc-gen-go-grpc" 2>/dev/null)" != "$PROTOC_GEN_GO_GRPC_VERSION" ]; then
	log "installing protoc-gen-go-grpc $PROTOC_GEN_GO_GRPC_VERSION"
	GOBIN="$bin" go install "google.golang.org/grpc/cmd/protoc-gen-go-grpc@$PROTOC_GEN_GO_GRPC_VERSION"
	echo "$PROTOC_GEN_GO_GRPC_VERSION" >"$bin/.protoc-gen-go-grpc"
fi
log "ok"
