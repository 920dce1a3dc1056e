# syntax=docker/dockerfile:1

# --- build: compile TypeScript with the dev dependencies, then drop them ---
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY plugins ./plugins
# The gateway (with the built-in plugins, into dist/plugins), then the admin UI's browser code (into dist/admin-ui).
RUN npx tsc -p tsconfig.json && npx tsc -p src/admin/ui/tsconfig.json && npm prune --omit=dev

# --- runtime: only what `gerbang start` needs, as the unprivileged node user ---
FROM node:20-bookworm-slim
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
COPY package.json routes.yaml ./
COPY bin ./bin
USER node
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, and the bin's `env -S node …` shebang execs node in place: SIGTERM
# reaches node directly, which drains in-flight requests before exiting.
CMD ["/app/bin/gerbang.js", "start"]
