# syntax=docker/dockerfile:1
# The node agent. Build from the repository's root:
#   docker build -f deploy/docker/graceline-agent.Dockerfile -t ghcr.io/graceline/graceline-agent:0.1.0 .
# The eBPF objects are committed and embedded, so the build needs no clang.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
# TARGETOS and TARGETARCH come from buildx; the committed eBPF objects are
# little-endian (bpfel), which covers amd64 and arm64.
ARG TARGETOS=linux TARGETARCH=amd64
# What --version prints, as make images stamps it (--build-arg VERSION=0.1.0 REVISION=<commit>).
ARG VERSION=dev REVISION=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/graceline/graceline/internal/version.version=$VERSION -X github.com/graceline/graceline/internal/version.revision=$REVISION" \
      -o /out/graceline-agent ./cmd/graceline-agent

# Static binary, no shell, no package manager. The agent runs as root
# (the DaemonSet says why), which is this image's default user.
FROM gcr.io/distroless/static-debian12:latest
COPY --from=build /out/graceline-agent /usr/local/bin/graceline-agent
USER 0:0
ENTRYPOINT ["/usr/local/bin/graceline-agent"]
