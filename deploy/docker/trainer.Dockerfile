# syntax=docker/dockerfile:1
# The trainer service (streaming model updates and refits): a static binary on a distroless base, run as non-root.
# Build from the repository root:
#   docker build -f deploy/docker/trainer.Dockerfile --build-arg VERSION=$(git describe --tags --always) -t swipeflix-trainer .
ARG GO_VERSION=1.26.8

FROM golang:${GO_VERSION}-bookworm AS build
WORKDIR /src
# Each module builds on its own (GOWORK=off) through its replace directives.
ENV CGO_ENABLED=0 GOWORK=off GOFLAGS=-trimpath
COPY pkg/go.* pkg/
COPY services/trainer/go.* services/trainer/
RUN --mount=type=cache,target=/go/pkg/mod cd services/trainer && go mod download
COPY pkg/ pkg/
COPY services/trainer/ services/trainer/
COPY deploy/go.mod deploy/
COPY deploy/cmd/probe/ deploy/cmd/probe/
ARG VERSION=dev
RUN --mount=type=cache,target=/go/pkg/mod --mount=type=cache,target=/root/.cache/go-build \
    cd /src/services/trainer && go build -ldflags="-s -w -X main.version=${VERSION}" -o /out/trainer . && \
    cd /src/deploy && go build -ldflags="-s -w" -o /out/probe ./cmd/probe && \
    mkdir -p /out/data

FROM gcr.io/distroless/static-debian12:nonroot
ARG VERSION=dev
ARG REVISION=unknown
LABEL org.opencontainers.image.title="swipeflix-trainer" \
      org.opencontainers.image.description="SwipeFlix trainer service: streaming model updates and refits" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="https://github.com/swipeflix/swipeflix" \
      org.opencontainers.image.licenses="MIT"
COPY --from=build /out/trainer /trainer
COPY --from=build /out/probe /probe
COPY --from=build --chown=65532:65532 /out/data /data
ENV TRAINER_ADDR=:8002 SWIPEFLIX_DATA_DIR=/data
USER 65532:65532
EXPOSE 8002
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 CMD ["/probe", "http://127.0.0.1:8002/health"]
ENTRYPOINT ["/trainer"]
