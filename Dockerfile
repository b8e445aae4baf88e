# One image for every role; ROLES picks what a container runs.
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
COPY . .
RUN npx prisma generate
USER node
CMD ["node", "--import", "tsx", "services/main.ts"]
