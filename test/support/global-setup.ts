import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { databaseUrl, quoteIdent, templateDatabase, withAdmin } from './pg-admin';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Unique per `vitest run`; names every database and Redis prefix the run creates. */
    testRunId: string;
    /** The migrated template each test file clones its database from. */
    templateDatabase: string;
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
 * Migrates the template database of these migrations once; each test file then clones it,
 * which takes milliseconds instead of a migration run per file.
 */
export default async function setup(project: TestProject) {
  const runId = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  project.provide('testRunId', runId);

  const hash = migrationsHash();
  const template = templateDatabase(hash);
  project.provide('templateDatabase', template);
  // One run migrates the template; a run starting at the same moment waits on the lock, then finds it ready.
  await withAdmin(async (client) => {
    await client.query('SELECT pg_advisory_lock(hashtext($1))', [template]);
    try {
      const { rows } = await client.query(
        `SELECT shobj_description(oid, 'pg_database') AS comment FROM pg_database WHERE datname = $1`,
        [template],
      );
      if (rows[0]?.comment === 'migrated') return;
      await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(template)} WITH (FORCE)`);
      await client.query(`CREATE DATABASE ${quoteIdent(template)}`);
      execFileSync('npx', ['prisma', 'migrate', 'deploy'], {
        env: { ...process.env, DATABASE_URL: databaseUrl(template) },
        stdio: ['ignore', 'ignore', 'inherit'],
      });
      await client.query(`COMMENT ON DATABASE ${quoteIdent(template)} IS 'migrated'`);
    } finally {
      await client.query('SELECT pg_advisory_unlock(hashtext($1))', [template]);
    }
  });

  return async () => {
    // Files drop their own databases; this catches those of a file that crashed.
    await withAdmin(async (client) => {
      const { rows } = await client.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [
        `nezuko_t_${runId}_%`,
      ]);
      for (const { datname } of rows) await client.query(`DROP DATABASE IF EXISTS ${quoteIdent(datname)} WITH (FORCE)`);
    });
  };
}
