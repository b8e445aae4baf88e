import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, inject } from 'vitest';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { databaseUrl, quoteIdent, withAdmin } from './pg-admin';

/**
 * A fresh, migrated database for the calling test file: cloned from the template in beforeAll,
 * dropped in afterAll. Call at module top level.
 */
export function useTestDatabase() {
  const name = `nezuko_t_${inject('testRunId')}_${randomBytes(4).toString('hex')}`;
  let prisma: PrismaClient | undefined;

  beforeAll(async () => {
    await withAdmin(async (client) => {
      for (let attempt = 0; ; attempt++) {
        try {
          await client.query(`CREATE DATABASE ${quoteIdent(name)} TEMPLATE ${quoteIdent(inject('templateDatabase'))}`);
          return;
        } catch (err) {
          // Two files cloning the template at the same instant can collide; a retry settles it.
          if (attempt >= 10 || !/being accessed by other users/.test(String(err))) throw err;
          await new Promise((r) => setTimeout(r, 100 + Math.random() * 200));
        }
      }
    });
    prisma = createDatabase({ url: databaseUrl(name), poolSize: 5 });
  });

  afterAll(async () => {
    await prisma?.$disconnect();
    await withAdmin((client) => client.query(`DROP DATABASE IF EXISTS ${quoteIdent(name)} WITH (FORCE)`));
  });

  return {
    get prisma(): PrismaClient {
      if (!prisma) throw new Error('useTestDatabase(): the database exists only inside tests and hooks');
      return prisma;
    },
    get url(): string {
      return databaseUrl(name);
    },
    name,
  };
}
