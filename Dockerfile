# syntax=docker/dockerfile:1
# orchestry-ingest: build the TypeScript to dist/ in one stage, run it on a slim Node.js 24 (LTS)
# image with production dependencies only (no tsx, no embedded-postgres, no tools/), as a non-root user.
#
#   docker build -t orchestry-ingest .
#   docker run --rm -e KAFKA_BROKERS=... -e DATABASE_URL=... -p 9464:9464 orchestry-ingest

ARG NODE_IMAGE=node:24-bookworm-slim

# --- production dependencies (no compilers needed: every native module ships prebuilt) ---------
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force

# --- build: all dependencies, then tsc -p tsconfig.build.json -> dist/ -------------------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npm run build

# --- runtime: compiled JavaScript only; `stack` and `start` without a broker/database say they need
# a development checkout ----------------------------------------------------------------------------
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    ORCHESTRY_USE_DIST=1 \
    HTTP_HOST=0.0.0.0 \
    HTTP_PORT=9464 \
    ARCHIVE_DIR=/var/lib/orchestry-ingest/archive
WORKDIR /app

RUN groupadd --system --gid 10001 orchestry \
 && useradd --system --uid 10001 --gid orchestry --home-dir /app --shell /usr/sbin/nologin orchestry \
 && mkdir -p /var/lib/orchestry-ingest/archive \
 && chown -R orchestry:orchestry /var/lib/orchestry-ingest

# Code and dependencies stay owned by root (read-only for the worker).
COPY --from=deps /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY migrations ./migrations
COPY --from=build /app/dist ./dist

USER orchestry:orchestry
VOLUME ["/var/lib/orchestry-ingest/archive"]
EXPOSE 9464

# Liveness from /healthz on HTTP_PORT, probed with node itself (the slim image has no curl).
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HTTP_PORT || 9464) + '/healthz', { signal: AbortSignal.timeout(4000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# `run` migrates, then consumes until SIGTERM (graceful within SHUTDOWN_TIMEOUT_MS).
# The V8 heap is capped: unbounded, V8 lets it grow to ~440 MB RSS under full load (it has
# no reason to collect); capped at 256 MB the worker stays near 260 MB RSS at the same speed.
CMD ["node", "--max-old-space-size=256", "bin/orchestry-ingest.js", "run"]
