# One image for the five services (and the migration job); the command picks the service:
#   node services/<api|scheduler|refresher|notifier|history>/dist/main.js
#   node libs/database/dist/migrate.cli.js up
# syntax=docker/dockerfile:1

FROM node:20-bookworm-slim AS build
WORKDIR /app
# Manifests first, so the dependency layer is cached until package.json or the lock file changes.
COPY package.json package-lock.json ./
COPY libs ./libs
COPY services ./services
COPY tsconfig.base.json tsconfig.build.json ./
RUN npm ci --no-audit --no-fund
RUN npx tsc -b tsconfig.build.json \
 && node services/api/console/build.js \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf libs/*/src services/*/src services/api/console/src libs/*/dist/.tsbuildinfo services/*/dist/.tsbuildinfo

FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    LOG_JSON=true \
    METRICS_PORT=9464
WORKDIR /app
COPY --from=build --chown=node:node /app /app
USER node
# 3000: api HTTP; 9464: /metrics, /health, /ready of every service (METRICS_PORT).
EXPOSE 3000 9464
STOPSIGNAL SIGTERM
CMD ["node", "services/api/dist/main.js"]
