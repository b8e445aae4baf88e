import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SHUTDOWN_PHASES } from '../../services/core/lifecycle';
import { useTestDatabase } from '../support/db';
import { spawnTs, waitFor } from '../support/process';
import { freePort } from '../support/redis-server';
import { useTestRedis } from '../support/redis';

const database = useTestDatabase();
const redis = useTestRedis();

describe('entrypoint', () => {
  it('exits with one clear line, not a stack trace, when the database is unreachable', async () => {
    const port = await freePort();
    const run = spawnTs('services/main.ts', {
      ROLES: 'api',
      DATABASE_URL: `postgresql://postgres:secretpw@127.0.0.1:${port}/nope`,
      REDIS_URL: redis.url,
    });
    expect(await run.exited).toBe(1);
    const lines = run.output().trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^Cannot use PostgreSQL at 127\.0\.0\.1:\d+\/nope: Can't reach database server/);
    expect(run.output()).not.toContain('secretpw');
    expect(run.output()).not.toMatch(/\n\s+at /);
  });

  it('exits with one line naming every bad variable', async () => {
    const run = spawnTs('services/main.ts', { API_PORT: 'x', REDIS_URL: 'http://nope' });
    expect(await run.exited).toBe(1);
    expect(run.output().trim()).toMatch(
      /^Invalid configuration: .*REDIS_URL: .*API_PORT: |^Invalid configuration: .*API_PORT: .*REDIS_URL: /,
    );
  });

  it('serves /health and /ready, then shuts down in order on SIGTERM within its deadline', async () => {
    const port = await freePort();
    const run = spawnTs('services/main.ts', {
      ROLES: 'api',
      API_PORT: String(port),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      SHUTDOWN_TIMEOUT_MS: '5000',
    });
    try {
      const ready = await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/ready`)).status === 200,
        20_000,
        '/ready 200',
      );
      expect(ready).toBe(true);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(await health.json()).toMatchObject({ status: 'ok' });
      const unknown = await fetch(`http://127.0.0.1:${port}/api/v1/nothing-here`);
      expect(unknown.status).toBe(404);
      expect(await unknown.json()).toMatchObject({ error: { code: 'not_found' } });

      const stopAt = Date.now();
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(Date.now() - stopAt).toBeLessThan(5000);
      const lines = run
        .output()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
      expect(lines.map((l) => l.message)).toEqual(
        expect.arrayContaining(['nezuko started', 'shutdown started', 'shutdown complete']),
      );
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it("runs every role's shutdown steps in the order README documents", async () => {
    // "SIGTERM shuts down in order under `SHUTDOWN_TIMEOUT_MS`: readiness off → HTTP → … → database."
    const documented = /SIGTERM shuts down in order under\s+`SHUTDOWN_TIMEOUT_MS`: ([^.]+)\./
      .exec(readFileSync('README.md', 'utf8'))![1]!
      .split(' → ');
    const phaseOf: Record<string, (typeof SHUTDOWN_PHASES)[number]> = {
      'readiness off': 'readiness',
      HTTP: 'http',
      pollers: 'pollers',
      workers: 'workers',
      'buffered writes': 'buffers',
      Redis: 'redis',
      database: 'database',
    };
    expect(documented.map((step) => phaseOf[step])).toEqual([...SHUTDOWN_PHASES]);

    const port = await freePort();
    const run = spawnTs('services/main.ts', {
      ROLES: 'poller,verifier,maintenance,api',
      API_PORT: String(port),
      DATABASE_URL: database.url,
      REDIS_URL: redis.url,
      REDIS_PREFIX: redis.prefix,
      SHUTDOWN_TIMEOUT_MS: '10000',
    });
    try {
      await waitFor(
        async () => (await fetch(`http://127.0.0.1:${port}/ready`).catch(() => undefined))?.status === 200,
        30_000,
        '/ready 200',
      );
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      const steps = run
        .output()
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l))
        .filter((l) => l.message === 'shutdown step done');
      // Each step logs as it finishes: every phase's steps finish before the next phase's begin.
      const order = steps.map((l) => SHUTDOWN_PHASES.indexOf(l.phase));
      expect(order).toEqual([...order].sort((a, b) => a - b));
      const byPhase = (phase: string) => steps.filter((l) => l.phase === phase).map((l) => l.hook);
      expect(byPhase('readiness')).toEqual(['readiness']);
      expect(byPhase('http')).toEqual(expect.arrayContaining(['api server', 'api control subscription']));
      expect(byPhase('pollers')).toEqual(['pollers']);
      expect(byPhase('workers')).toEqual(
        expect.arrayContaining(['verifier workers', 'maintenance workers', 'api queues']),
      );
      expect(byPhase('buffers')).toEqual(
        expect.arrayContaining([
          'poller api-call log',
          'verification log',
          'verifier api-call log',
          'maintenance api-call log',
        ]),
      );
      expect(byPhase('redis')).toEqual(['redis connections']);
      expect(byPhase('database').sort()).toEqual(['database pool', 'sql pool']);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 60_000);
});
