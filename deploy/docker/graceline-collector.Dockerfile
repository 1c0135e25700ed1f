# syntax=docker/dockerfile:1
# The collector. Build from the repository's root:
#   docker build -f deploy/docker/graceline-collector.Dockerfile -t ghcr.io/graceline/graceline-collector:0.1.0 .
# SQLite is modernc.org/sqlite, pure Go, so the binary is static.

FROM golang:1.26 AS build
WORKDIR /src
# Modules first, so that a source change does not download them again.
COPY go.mod go.sum ./
RUN --mount=type=cache,target=/go/pkg/mod go mod download
COPY . .
ARG TARGETOS=linux TARGETARCH=amd64
# What --version prints, as make images stamps it (--build-arg VERSION=0.1.0 REVISION=<commit>).
ARG VERSION=dev REVISION=
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH \
    go build -trimpath -buildvcs=false \
      -ldflags="-s -w -X github.com/graceline/graceline/internal/version.version=$VERSION -X github.com/graceline/graceline/internal/version.revision=$REVISION" \
      -o /out/graceline-collector ./cmd/graceline-collector

# Static binary, no shell, running as distroless's nonroot user (65532),
# the uid the Deployment sets.
FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/graceline-collector /usr/local/bin/graceline-collector
USER 65532:65532
ENTRYPOINT ["/usr/local/bin/graceline-collector"]
