import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { databaseUrl, quoteIdent, TEMPLATE_DATABASE, withAdmin } from './pg-admin';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Unique per `vitest run`; names every database and Redis prefix the run creates. */
    testRunId: string;
  }
}

function migrationsHash(): string {
  const hash = createHash('sha256');
  const walk = (dir: string) => {
    for (const entry of readdirSync(dir).sort()) {
      const full = path.join(dir, entry);
      if (statSync(full).isDirectory()) walk(full);
      else hash.update(full).update(readFileSync(full));
    }
  };
  walk('prisma/migrations');
  return hash.digest('hex').slice(0, 32);
}

/**
 * Migrates a template database once (again only when migrations change); each test file then clones it,
 * which takes milliseconds instead of a migration run per file.
 */
export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  project.provide('testRunId', runId);

  const hash = migrationsHash();
  const current = await withAdmin(async (client) => {
    const { rows } = await client.query(
      `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
      [TEMPLATE_DATABASE],
    );
    return rows[0]?.comment as string | undefined;
  });
  if (current !== hash) {
    await withAdmin(async (client) => {
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(TEMPLATE_DATABASE)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoteIdent(TEMPLATE_DATABASE)}`);
    });
    execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
      env: { ...process.env, DATABASE_URL: databaseUrl(TEMPLATE_DATABASE) },
      stdio: ['ignore', 'ignore', 'inherit'],
    });
    await withAdmin((client) => client.query(`COMMENT ON DATABASE ${quoteIdent(TEMPLATE_DATABASE)} IS '${hash}'`));
  }

  return async () => {
    // Files drop their own databases; this catches those of a file that crashed.
    await withAdmin(async (client) => {
      const { rows } = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`nezuko_t_${runId}_%`]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    });
  };
}
