# pstn-kafka-connector: the `pstn-connector` CLI in a small runtime image (the default target), and
# the development tools (Graph simulator, local stack, demo) in a separate `tools` image.
#
#   docker build -t pstn-kafka-connector .
#   docker run --rm pstn-kafka-connector --help
#   docker run --rm --env-file connector.env -p 9464:9464 pstn-kafka-connector          # run
#   docker build --target tools -t pstn-kafka-connector-tools .
#   docker run --rm pstn-kafka-connector-tools simulate --host 0.0.0.0 --port 8443 ...    # the simulator
#
# The runtime image carries the connector only (dist/src and production dependencies); tools/ and
# the dev dependencies reach the `tools` image alone. Checked by test/ops/dockerfile.test.ts
# (structure, hadolint when installed, and the runtime stage's files assembled without Docker and run).

# Node 24 LTS, pinned by the digest of the image index (every platform), so that a rebuild gets the
# same base. To move on: `docker buildx imagetools inspect node:24-bookworm-slim` prints the digest.
ARG NODE_IMAGE=node:24.18.0-bookworm-slim@sha256:6f7b03f7c2c8e2e784dcf9295400527b9b1270fd37b7e9a7285cf83b6951452d

# ---- build: dev dependencies and TypeScript; dist/src for runtime, dist/tools for tools -------------
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
# --ignore-scripts: `prepare` would run tsc before the sources are here; the build runs below.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
COPY tools ./tools
COPY schemas ./schemas
RUN npm run build

# ---- tools: the build stage as is (dist/tools, dev dependencies), for the compose simulator --------
FROM build AS tools
# /shared is the compose volume the simulator writes its CA to, as the image's `node` user.
RUN mkdir -p /shared && chown 1000:1000 /shared
USER 1000:1000
EXPOSE 8443
ENTRYPOINT ["node", "dist/src/cli/main.js"]
CMD ["--help"]

# ---- runtime: dist/src, schemas/, package.json and production dependencies only -------------------
FROM ${NODE_IMAGE} AS runtime
# MALLOC_ARENA_MAX: src/runtime-flags.ts (IMAGE_ENVIRONMENT).
ENV NODE_ENV=production MALLOC_ARENA_MAX=2
WORKDIR /app
COPY package.json package-lock.json ./
# --omit=dev: no TypeScript, no test tooling; --ignore-scripts: `prepare` needs tsc, which is not here.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force \
    && mkdir -p /shared \
    && chown 1000:1000 /shared
COPY schemas ./schemas
COPY --from=build /app/dist/src ./dist/src

# The image's `node` user. Numeric, so that Kubernetes' runAsNonRoot can verify it. The application
# files stay owned by root (read-only to it); /shared is where compose mounts the simulator's CA.
USER 1000:1000
EXPOSE 9464
# `run` stops taking work on SIGTERM, abandons the open transaction and exits 0.
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.METRICS_PORT||9464)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# V8 flags: src/runtime-flags.ts (memory over speed the connector cannot use: Graph paces it).
ENTRYPOINT ["node", "--optimize-for-size", "dist/src/cli/main.js"]
CMD ["run"]
