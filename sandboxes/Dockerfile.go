# The loopwright Go sandbox image for machines that can pull from a registry:
#   docker build -t loopwright-sandbox:go - < Dockerfile.go
# It follows the same conventions as the offline image (`loopwright sandbox build --language go`): python3 for
# the command runner, the workspace at /workspace, git trusting the bind-mounted repository, the label saying
# its language, and the environment of sandboxes/toolchains/go.py (no proxy and no toolchain downloads in the
# agent phase; caches under /tmp, the one writable place besides the workspace).
FROM golang:1.24-bookworm
LABEL loopwright.language=go

RUN apt-get update \
    && apt-get install -y --no-install-recommends python3 git ca-certificates procps \
    && rm -rf /var/lib/apt/lists/* \
    && git config --system safe.directory '*' \
    && mkdir -p /workspace /opt/loopwright

ENV LANG=C.UTF-8 \
    GOTOOLCHAIN=local \
    GOPROXY=off \
    GOSUMDB=off \
    GOPATH=/opt/loopwright/go \
    GOMODCACHE=/opt/loopwright/go/pkg/mod \
    GOCACHE=/tmp/loopwright-go-cache \
    CGO_ENABLED=0

WORKDIR /workspace
CMD ["sleep", "infinity"]
