# syntax=docker/dockerfile:1
# Multi-stage: build with dev dependencies, run with production dependencies only.
# Built with `docker build .`, or without a daemon by `make image` (buildah; hack/image.sh makes the
# FROM locally when it cannot be pulled).
FROM node:20-bookworm-slim AS build
WORKDIR /src
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY src ./src
RUN npx tsc -p tsconfig.build.json && npm prune --omit=dev

FROM node:20-bookworm-slim
LABEL org.opencontainers.image.title="annotary" \
      org.opencontainers.image.description="Kubernetes certificate utilities: Java keystores from TLS Secrets, certificates into Routes and Ingresses, one rolling restart per real change" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.source="annotary"
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /src/package.json ./
COPY --from=build /src/node_modules ./node_modules
COPY --from=build /src/dist ./dist
# nothing is written at run time: works with readOnlyRootFilesystem
USER 65532:65532
EXPOSE 8080
# --optimize-for-size: V8's lean-heap heuristics (collect sooner, grow the heap less). An operator
# is mostly idle and memory-bound; at 10k Secrets this halves RSS after sync for ~0.3 s more
# start-up. Alone, its heap grows by ~10% per full GC, and a first sync of 100k Secrets spent
# three quarters of its CPU in the collector: --heap-growing-percent=50 lets each step grow by
# half, which halves that CPU and keeps the RSS at 10k (make bench, docs/benchmarks.md). Not
# settable in NODE_OPTIONS, so they are on the command line here and in the bin's shebang; the
# tests and benchmarks read them from here (e2e/harness/cluster.ts operatorArgv).
ENTRYPOINT ["node", "--optimize-for-size", "--heap-growing-percent=50", "dist/cli.js"]
CMD ["run"]
