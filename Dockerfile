# syntax=docker/dockerfile:1
# echomind-connector: the production build (`npm run build`: JavaScript in dist/
# and the workflow bundle built ahead of time), run with node as a non-root user.
#
#   docker build -t echomind-connector .
#   docker run --env-file connector.env -p 127.0.0.1:8080:8080 echomind-connector
#
# With push notifications on (NOTIFICATION_PUBLIC_URL set), the TLS ingress
# forwards the public URL's path to port 8090 as well: add -p 127.0.0.1:8090:8090
# for an ingress on the host (docs/deploy.md, Push notifications).
#
# CI has no Docker engine: scripts/dockerfile-dryrun.ts runs this file's COPY
# and RUN steps in plain directories, then the end-to-end suite starts the
# result's CMD against the real stack and runs its HEALTHCHECK (docs/deploy.md).

# Debian (glibc): the Temporal SDK's native core ships for glibc, not musl/Alpine.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN --mount=type=cache,target=/root/.npm npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json temporal.config.ts ./
COPY src ./src
COPY workflows ./workflows
COPY activities ./activities
RUN npm run build

FROM node:24-bookworm-slim AS runtime
# MALLOC_* and the node flags in CMD keep the worker's memory low (src/runtime-settings.ts says why).
# Both listeners bind every interface of the container (the code's default is 127.0.0.1);
# the notification endpoint listens only when NOTIFICATION_PUBLIC_URL is set.
ENV NODE_ENV=production \
    HEALTH_HOST=0.0.0.0 \
    HEALTH_PORT=8080 \
    NOTIFICATION_HOST=0.0.0.0 \
    NOTIFICATION_PORT=8090 \
    MALLOC_ARENA_MAX=2 \
    MALLOC_MMAP_THRESHOLD_=131072
WORKDIR /app
COPY package.json package-lock.json ./
# The npm cache lives in a BuildKit cache mount, so no layer carries it.
RUN --mount=type=cache,target=/root/.npm npm ci --omit=dev --no-audit --no-fund
COPY --from=build /app/dist ./dist
# The image's unprivileged `node` user, by number so Kubernetes' runAsNonRoot can verify it;
# the app files stay root-owned and read-only to it.
USER 1000:1000
# 8080: /healthz, /readyz, /metrics (keep it internal); 8090: change notifications, behind the TLS ingress.
EXPOSE 8080 8090
HEALTHCHECK --interval=15s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.HEALTH_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "--max-semi-space-size=4", "--heap-growing-percent=25", "dist/src/main.js"]
