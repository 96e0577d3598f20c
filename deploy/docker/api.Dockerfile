# syntax=docker/dockerfile:1
# The api service (recommendations over HTTP): a static binary on a distroless base, run as non-root.
# Build from the repository root:
#   docker build -f deploy/docker/api.Dockerfile --build-arg VERSION=$(git describe --tags --always) -t swipeflix-api .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Each module builds on its own (GOWORK=off) through its replace directives.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
COPY pkg/go.* pkg/
COPY services/api/go.* services/api/
RUN --mount=type=cache,target=/go/pkg/mod cd services/api && go mod download
COPY pkg/ pkg/
COPY services/api/ services/api/
COPY deploy/go.mod deploy/
COPY deploy/cmd/probe/ deploy/cmd/probe/
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd /src/services/api && go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/api . && \
    cd /src/deploy && go build -ldflags="-s -w" -o /out/probe ./cmd/probe && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="swipeflix-api" \
      org.opencontainers.image.description="SwipeFlix api service: recommendations over HTTP" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/swipeflix/swipeflix" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/api /api
COPY --from=build /out/probe /probe
COPY --from=build --chown=65532:65532 /out/data /data
ENV API_ADDR=:8000 SWIPEFLIX_DATA_DIR=/data
USER 65532:65532
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/probe", "http://127.0.0.1:8000/health"]
ENTRYPOINT ["/api"]
