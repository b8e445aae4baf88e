import pg from 'pg';

/** The server tests run against: DATABASE_URL's server (the database part is replaced per test file). */
export const baseDatabaseUrl = process.env.DATABASE_URL ?? 'postgresql://postgres:postgres@127.0.0.1:5432/nezuko';
export const TEMPLATE_DATABASE = 'nezuko_test_template';

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
