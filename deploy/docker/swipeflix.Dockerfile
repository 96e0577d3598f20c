# syntax=docker/dockerfile:1
# The one binary: any set of services (-target=all|api|ingest|trainer|drift) and the client
# commands (publish, watch, eval, migrate, train), static, on a distroless base, run as non-root.
# Build from the repository root:
#   docker build -f deploy/docker/swipeflix.Dockerfile --build-arg VERSION=$(git describe --tags --always) -t swipeflix .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Each module builds on its own (GOWORK=off) through its replace directives.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
COPY pkg/go.* pkg/
COPY services/api/go.* services/api/
COPY services/ingest/go.* services/ingest/
COPY services/trainer/go.* services/trainer/
COPY services/drift/go.* services/drift/
COPY cmd/swipeflix/go.* cmd/swipeflix/
RUN --mount=type=cache,target=/go/pkg/mod cd cmd/swipeflix && go mod download
COPY pkg/ pkg/
COPY services/api/ services/api/
COPY services/ingest/ services/ingest/
COPY services/trainer/ services/trainer/
COPY services/drift/ services/drift/
COPY cmd/swipeflix/ cmd/swipeflix/
COPY deploy/go.mod deploy/
COPY deploy/cmd/probe/ deploy/cmd/probe/
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd /src/cmd/swipeflix && go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/swipeflix . && \
    cd /src/deploy && go build -ldflags="-s -w" -o /out/probe ./cmd/probe && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="swipeflix" \
      org.opencontainers.image.description="SwipeFlix: every service and the client commands in one binary" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/swipeflix/swipeflix" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/swipeflix /swipeflix
COPY --from=build /out/probe /probe
COPY --from=build --chown=65532:65532 /out/data /data
ENV SWIPEFLIX_DATA_DIR=/data
USER 65532:65532
EXPOSE 8000 8001 8002 8003
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/probe", "http://127.0.0.1:8000/health"]
ENTRYPOINT ["/swipeflix"]
CMD ["-target=all"]
