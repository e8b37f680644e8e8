# Tokenkeeper in a container. Node 24 runs the TypeScript sources directly (it strips the types;
# bin/tokenkeeper.js loads src/ when it is not inside node_modules), so the image needs no build
# step: only the production dependencies, the sources and bin/. docs/deploy.md explains the rest.

FROM node:24-slim AS dependencies
WORKDIR /app
COPY package.json package-lock.json ./
# `npm install`, not `npm ci`: a lockfile written on macOS or Windows may lack Linux's optional
# packages, and `npm ci` refuses such a lockfile.
RUN npm install --omit=dev --no-audit --no-fund

FROM node:24-slim
WORKDIR /app
ENV TOKENKEEPER_ENV=production
COPY --from=dependencies /app/node_modules ./node_modules
COPY package.json ./
COPY bin ./bin
COPY src ./src
# The data directory is only used without DATABASE_URL (SQLite): owned by the unprivileged user
# so a volume mounted at /app/data is writable.
RUN mkdir -p /app/data && chown node:node /app/data
USER node
EXPOSE 3170
# Liveness through the same route load balancers use: 200 while the database answers.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.TOKENKEEPER_PORT || 3170) + '/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
CMD ["node", "bin/tokenkeeper.js", "serve"]
