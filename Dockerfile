# One image for every role; ROLES picks what a container runs (docker-compose.yml runs each as a service).
# Stage 1 compiles TypeScript to JavaScript with the dev dependencies (npm run build: esbuild, see
# scripts/build.mjs). Stage 2 is what runs: node on the compiled output, production dependencies only, no tsx
# and no TypeScript, and the schema and migrations for the one-shot migrate service.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY . .
RUN npx prisma generate && npm run build

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# npm keeps typescript as an optional peer of prisma and valibot even without dev dependencies; nothing
# imports it at run time, so it goes.
RUN npm ci --omit=dev --no-audit --no-fund && rm -rf node_modules/typescript && npm cache clean --force
COPY prisma ./prisma
COPY prisma.config.ts ./
COPY --from=build /app/dist ./dist
# Everything above belongs to root and is read-only to the runtime user. Only storage/ (logs, exports) is its
# own; a named volume mounted there starts as a copy of it, ownership included.
RUN mkdir -p storage/logs storage/exports && chown -R node:node storage
USER node
CMD ["node", "dist/services/main.js"]
