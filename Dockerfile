# syntax=docker/dockerfile:1

# Node 24 LTS (supported until 2028-04-30), the same release `npm test` runs on
# (the `node` dev dependency). Pin it by digest when you build a release:
#   docker buildx imagetools inspect node:24.21.0-bookworm-slim
#   docker build --build-arg NODE_IMAGE=node:24.21.0-bookworm-slim@sha256:<digest> .
# (The digest is not written here: it could not be looked up from where this
# file was last edited, and a wrong one fails every build.)
ARG NODE_IMAGE=node:24.21.0-bookworm-slim

# --- build: compile TypeScript with the dev dependencies, then drop them ---
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
# The gateway (with the built-in plugins, into dist/plugins), then the admin UI's browser code (into dist/admin-ui).
RUN npx tsc -p tsconfig.json && npx tsc -p src/admin/ui/tsconfig.json && npm prune --omit=dev

# --- runtime: only what `gerbang start` needs, as the unprivileged node user ---
FROM ${NODE_IMAGE}
LABEL org.opencontainers.image.title="Gerbang" \
      org.opencontainers.image.description="API gateway for the Banten provincial government's services" \
      org.opencontainers.image.version="0.1.0" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.vendor="Gerbang" \
      org.opencontainers.image.base.name="docker.io/library/node:24.21.0-bookworm-slim"
ENV NODE_ENV=production \
    PORT=8080 \
    HOST=0.0.0.0 \
    GERBANG_ROUTES=/app/routes.yaml
WORKDIR /app
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/admin-ui ./dist/admin-ui
COPY --from=build /app/dist/plugins ./dist/plugins
# Operators' own .js plugins go in /app/plugins (or plugins/ beside their routes file).
COPY plugins ./plugins
COPY src/admin/ui/public ./src/admin/ui/public
COPY src/docs/public ./src/docs/public
COPY package.json routes.yaml ./
COPY bin ./bin
USER node
# 8080: the API; 8081: the admin UI when GERBANG_ADMIN_PORT=8081 (deploy/ sets it)
EXPOSE 8080 8081
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, and the bin's `env -S node …` shebang execs node in place: SIGTERM
# reaches node directly, which drains in-flight requests before exiting.
CMD ["/app/bin/gerbang.js", "start"]
