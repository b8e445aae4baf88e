// Prisma 7 CLI configuration. The schema's `datasource db` holds only the provider; the URL comes from
// the environment here (Prisma 7 does not read `.env` by itself, hence dotenv).
// `prisma generate` needs no database, so a missing DATABASE_URL falls back to the local default the
// set-up script and services/core/config use; migrate commands then talk to that database.
// On hosts that cannot download Prisma's schema-engine binary, set PRISMA_SCHEMA_ENGINE_BINARY
// (see README / ../shared/PRISMA.md); nothing here depends on it.
import 'dotenv/config';
import { defineConfig } from 'prisma/config';

export default defineConfig({
  schema: 'prisma/schema.prisma',
  migrations: {
    path: 'prisma/migrations',
  },
  datasource: {
    url: process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko',
    // Optional: `migrate dev` / `migrate diff --from-migrations` create a temporary shadow database
    // themselves when the role may CREATE DATABASE; set this where it may not.
    ...(process.env.SHADOW_DATABASE_URL ? { shadowDatabaseUrl: process.env.SHADOW_DATABASE_URL } : {}),
  },
});
