# syntax=docker/dockerfile:1
# Sapphire trading service: `docker build -t sapphire .` then
# `docker run -p 8080:8080 --env-file .env sapphire` (paper mode by default). See docs/deploy.md.
# The base is pinned to an exact Node release; pin the digest too for fully reproducible builds:
#   docker build --build-arg NODE_IMAGE=node:20.20.2-bookworm-slim@sha256:<digest> -t sapphire .
ARG NODE_IMAGE=node:20.20.2-bookworm-slim

# ---- build: every dependency from the lockfile, and the image fails when the code does not type-check
FROM ${NODE_IMAGE} AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx tsc --noEmit -p .

# ---- deps: production dependencies only, plus tsx (it runs the TypeScript sources at run time).
# tsx and its one dependency (esbuild + the platform binary) are copied from the build stage, so
# their versions are exactly the lockfile's and nothing is fetched twice.
FROM ${NODE_IMAGE} AS deps
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/node_modules/tsx ./node_modules/tsx
COPY --from=build /app/node_modules/esbuild ./node_modules/esbuild
COPY --from=build /app/node_modules/@esbuild ./node_modules/@esbuild

# ---- runtime: slim, non-root, no build tools, no secrets (they come from the environment or Secret Manager)
FROM ${NODE_IMAGE} AS runtime
ENV NODE_ENV=production \
    HOST=0.0.0.0 \
    PORT=8080 \
    JOURNAL_PATH=/app/.sapphire/journal.jsonl
WORKDIR /app
COPY --from=deps --chown=node:node /app/node_modules ./node_modules
COPY --chown=node:node . .
RUN mkdir -p /app/.sapphire /app/out && chown node:node /app/.sapphire /app/out
USER node
EXPOSE 8080
# node:20-slim has no curl: probe /healthz with node's own fetch
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:'+(process.env.PORT||8080)+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
CMD ["node", "--import", "tsx", "bin/sapphire.ts", "serve"]
