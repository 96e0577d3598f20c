# syntax=docker/dockerfile:1
# The drift service (data drift reports): a static binary on a distroless base, run as non-root.
# Build from the repository root:
#   docker build -f deploy/docker/drift.Dockerfile --build-arg VERSION=$(git describe --tags --always) -t swipeflix-drift .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Each module builds on its own (GOWORK=off) through its replace directives.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
COPY pkg/go.* pkg/
COPY services/drift/go.* services/drift/
RUN --mount=type=cache,target=/go/pkg/mod cd services/drift && go mod download
COPY pkg/ pkg/
COPY services/drift/ services/drift/
COPY deploy/go.mod deploy/
COPY deploy/cmd/probe/ deploy/cmd/probe/
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd /src/services/drift && go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/drift . && \
    cd /src/deploy && go build -ldflags="-s -w" -o /out/probe ./cmd/probe && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="swipeflix-drift" \
      org.opencontainers.image.description="SwipeFlix drift service: data drift reports" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/swipeflix/swipeflix" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/drift /drift
COPY --from=build /out/probe /probe
COPY --from=build --chown=65532:65532 /out/data /data
ENV DRIFT_ADDR=:8003 SWIPEFLIX_DATA_DIR=/data
USER 65532:65532
EXPOSE 8003
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/probe", "http://127.0.0.1:8003/health"]
ENTRYPOINT ["/drift"]
