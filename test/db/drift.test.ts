// The migrations and schema.prisma describe the same database: no drift for `prisma migrate diff` to report.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { expect, test } from 'vitest';
import { useTestDatabase } from '../support/db';

const run = promisify(execFile);
// migrate diff needs a database server to create its temporary shadow database on: use this file's own.
const tdb = useTestDatabase();

test('prisma migrate diff from the migrations to schema.prisma is empty', { timeout: 120_000 }, async () => {
  // --exit-code: 0 = empty, 2 = not empty, 1 = error. execFile rejects on non-zero, with stdout attached.
  const result = await run(
    'npx',
    [
      'prisma',
      'migrate',
      'diff',
      '--from-migrations',
      'prisma/migrations',
      '--to-schema',
      'prisma/schema.prisma',
      '--script',
      '--exit-code',
    ],
    { env: { ...process.env, DATABASE_URL: tdb.url }, maxBuffer: 10 * 1024 * 1024 },
  ).then(
    (r) => ({ code: 0, stdout: r.stdout, stderr: r.stderr }),
    (e: { code?: number; stdout?: string; stderr?: string }) => ({
      code: e.code,
      stdout: e.stdout ?? '',
      stderr: e.stderr ?? '',
    }),
  );
  expect(result.stderr + result.stdout).not.toMatch(/error/i);
  expect(result.stdout.replace(/--.*$/gm, '').trim()).toBe('');
  expect(result.code).toBe(0);
});
