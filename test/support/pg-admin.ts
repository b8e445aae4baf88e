import pg from 'pg';

/** The server tests run against: DATABASE_URL's server (the database part is replaced per test file). */
export const baseDatabaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko';
/**
 * The migrated template test databases are cloned from, named by a hash of prisma/migrations: checkouts with
 * different migrations (branches, worktrees) on one server each have their own and never drop another's.
 */
export const templateDatabase = (migrationsHash: string) => `nezuko_test_template_${migrationsHash.slice(0, 16)}`;

export function databaseUrl(database: string): string {
  const url = new URL(baseDatabaseUrl);
  url.pathname = `/${database}`;
  return url.toString();
}

/** Runs `fn` with a connection to the server's `postgres` database (for CREATE/DROP DATABASE). */
export async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: databaseUrl('postgres') });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export const quoteIdent = (name: string) => `"${name.replaceAll('"', '""')}"`;
