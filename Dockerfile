# syntax=docker/dockerfile:1
#
# ferrocast: one image for every role.
#
#   docker build -t ferrocast .
#   docker run --rm -p 1935:1935 -p 8080:8080 ferrocast          # `ferrocast dev`: prints the URLs
#   docker run ... ferrocast control|origin|edge                  # cluster roles, see deploy/compose.yaml
#
# Needs BuildKit (the default builder of current Docker) for the cache mounts.
#
# Base images are pinned by tag, not digest, so that security rebuilds of the same tag are
# picked up; pin digests in your own build if you need byte-for-byte reproducible images.
# Nothing is installed with apt: the build needs only cargo (protobuf is compiled by protox,
# a pure-Rust compiler, not protoc), and the runtime image has what the binary links to.

# ---- players for the watch page -----------------------------------------------------------
# The pinned hls.js, mpegts.js and dash.js from scripts/browser's lockfile (dependencies only,
# no install scripts run), copied out as the three browser builds the edge serves
# (docs/adr/0018-watch-page-players.md). Nothing downloaded is committed to the repository.
FROM node:22-bookworm-slim AS players
WORKDIR /players
COPY scripts/browser/package.json scripts/browser/package-lock.json scripts/browser/.npmrc ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && mkdir -p /out/hls.js/dist /out/mpegts.js/dist /out/dashjs/dist/modern/umd \
    && cp node_modules/hls.js/dist/hls.min.js node_modules/hls.js/LICENSE /out/hls.js/dist/ \
    && cp node_modules/mpegts.js/dist/mpegts.js node_modules/mpegts.js/LICENSE /out/mpegts.js/dist/ \
    && cp node_modules/dashjs/dist/modern/umd/dash.all.min.js node_modules/dashjs/LICENSE.md \
          /out/dashjs/dist/modern/umd/

# ---- build --------------------------------------------------------------------------------
# Debian 12 (bookworm) on both sides: the binary links against the same glibc it runs with.
FROM rust:1.95-bookworm AS builder

WORKDIR /src
COPY . .
# Where the edge looks for the players when edge.watch.assets_dir is unset (a build-time
# default; the runtime stage puts them there).
ENV FC_WATCH_ASSETS_DIR=/usr/share/ferrocast/players

# The registry and target caches live in BuildKit cache mounts, so a rebuild recompiles only
# what changed. The target directory is a cache mount and is gone after this step: the
# binary is copied out of it.
RUN --mount=type=cache,id=ferrocast-cargo-registry,target=/usr/local/cargo/registry,sharing=locked \
    --mount=type=cache,id=ferrocast-cargo-git,target=/usr/local/cargo/git,sharing=locked \
    --mount=type=cache,id=ferrocast-target,target=/src/target,sharing=locked \
    cargo build --release --locked -p ferrocast \
    && mkdir -p /out/data \
    && cp target/release/ferrocast /out/ferrocast

# ---- runtime ------------------------------------------------------------------------------
# distroless cc: glibc, libgcc, CA certificates (for https S3 endpoints), no shell.
# The :nonroot variant runs as uid/gid 65532.
FROM gcr.io/distroless/cc-debian12:nonroot

ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="ferrocast" \
      org.opencontainers.image.description="Self-hosted live streaming: RTMP in, HLS and HTTP-FLV out. One binary, roles dev, control, origin and edge." \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.base.name="gcr.io/distroless/cc-debian12:nonroot"

COPY --from=builder /out/ferrocast /usr/local/bin/ferrocast
COPY --from=players /out /usr/share/ferrocast/players
# `ferrocast dev` keeps its stream and segments in ./ferrocast-data: give it a writable
# working directory. The cluster roles write nothing to disk.
COPY --from=builder --chown=65532:65532 /out/data /var/lib/ferrocast
WORKDIR /var/lib/ferrocast
USER 65532:65532

# No FERROCAST_* variables are set here on purpose: each role refuses configuration keys it
# does not know, so a variable meant for one role would stop the others from starting.

# dev: RTMP 1935, HTTP 8080, ops 9090. origin: RTMP 1935, relay 7070, ops 9101.
# control: REST 8090, gRPC 7000, ops 9100. edge: HTTP 8080, ops 9102.
EXPOSE 1935 8080 7070 7000 8090 9090 9100 9101 9102

# SIGTERM drains (docs/operations/drain.md); a second SIGTERM exits at once.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/ferrocast"]
CMD ["dev"]
