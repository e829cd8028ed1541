# syntax=docker/dockerfile:1
# kaisar-node: one image for every role (provider | checker | gateway).
#   docker build -t kaisar-node .
#   docker run --rm -v kaisar:/data -p 4001:4001 -p 4002:4002 -p 8080:8080 kaisar-node start --role gateway
# A provider runs users' containers through the host's Docker engine:
#   docker run ... -v /var/run/docker.sock:/var/run/docker.sock kaisar-node start --role provider

FROM node:22-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
# Scripts are skipped here: `prepare` compiles, and the sources are not copied yet.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY node ./node
COPY protocols ./protocols
COPY chain ./chain
COPY sim ./sim
COPY web ./web
COPY bench ./bench
COPY test ./test
RUN npx tsc -p . && npm prune --omit=dev --omit=optional --ignore-scripts

FROM node:22-bookworm-slim
ENV NODE_ENV=production \
    KAISAR_DATA_DIR=/data \
    KAISAR_LISTEN=/ip4/0.0.0.0/tcp/4001,/ip4/0.0.0.0/tcp/4002/ws
WORKDIR /app
COPY --from=build /app/package.json ./
COPY --from=build /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY --from=build /app/bin ./bin
COPY --from=build /app/web ./web
RUN mkdir -p /data && chown node:node /data
USER node
VOLUME ["/data"]
# libp2p TCP, libp2p WebSockets, HTTP API (gateways; other roles bind it to localhost)
EXPOSE 4001 4002 8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s CMD node -e "fetch('http://127.0.0.1:'+(process.env.KAISAR_API||'127.0.0.1:7001').split(':').pop()+'/healthz').then(r=>process.exit(r.ok?0:1),()=>process.exit(1))"
ENTRYPOINT ["node", "/app/bin/kaisar-node.js"]
CMD ["--help"]
