import http from 'node:http';
import { Writable } from 'node:stream';
import express from 'express';
import winston from 'winston';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeRequests, MAX_QUERIES_PER_REQUEST } from '../../services/api/observe';
import { loadConfig } from '../../services/core/config';
import { createLogger } from '../../services/core/logger';
import { createMetrics } from '../../services/core/metrics';
import { closeServer, listen } from '../../services/core/ops-http';
import { createDatabase, type PrismaClient } from '../../services/core/db';
import { useTestDatabase } from '../support/db';

const database = useTestDatabase();

/** A tiny app with the real request observer in front of routes that run a chosen number of queries. */
async function serve(slowRequestMs: number) {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of chunk.toString().split('\n').filter(Boolean)) lines.push(JSON.parse(line));
      done();
    },
  });
  const log = createLogger({ console: false, level: 'info', transports: [new winston.transports.Stream({ stream })] });
  const metrics = createMetrics();
  const db: PrismaClient = createDatabase({ url: database.url, poolSize: 2, onQuery: () => metrics.dbQueries.inc() });
  const app = express();
  app.use((_req, res, next) => {
    res.locals.requestId = 'req-123';
    next();
  });
  app.use(
    observeRequests({
      config: loadConfig({ SLOW_REQUEST_MS: String(slowRequestMs), COUNT_REQUEST_QUERIES: 'true' }),
      log,
      metrics,
    }),
  );
  app.get('/queries/:n', async (req, res) => {
    // Sequential, like a loop that queries per item.
    for (let i = 0; i < Number(req.params.n); i++) await db.$queryRaw`SELECT 1`;
    res.json({ ok: true });
  });
  app.get('/sleep/:ms', async (req, res) => {
    await new Promise((r) => setTimeout(r, Number(req.params.ms)));
    res.json({ ok: true });
  });
  const server = http.createServer(app);
  const port = await listen(server, 0, '127.0.0.1');
  return {
    lines,
    get: (path: string) => fetch(`http://127.0.0.1:${port}${path}`).then((r) => r.json()),
    stop: async () => {
      await closeServer(server);
      await db.$disconnect();
    },
  };
}

describe('request warnings', () => {
  let app: Awaited<ReturnType<typeof serve>>;
  beforeAll(async () => {
    app = await serve(150);
  });
  afterAll(() => app.stop());

  it('warns about a request slower than SLOW_REQUEST_MS with its route and timing, and not about a fast one', async () => {
    await app.get('/sleep/1');
    await app.get('/sleep/300');
    await new Promise((r) => setTimeout(r, 50));
    const slow = app.lines.filter((l) => l.message === 'slow request');
    expect(slow).toHaveLength(1);
    expect(slow[0]).toMatchObject({
      level: 'warn',
      method: 'GET',
      route: '/sleep/:ms',
      status: 200,
      requestId: 'req-123',
    });
    expect(slow[0]!.ms).toBeGreaterThanOrEqual(290);
  });

  it(`warns when one request runs more than ${MAX_QUERIES_PER_REQUEST} queries, and not at ${MAX_QUERIES_PER_REQUEST}`, async () => {
    await app.get(`/queries/${MAX_QUERIES_PER_REQUEST}`);
    await app.get(`/queries/${MAX_QUERIES_PER_REQUEST + 2}`);
    await new Promise((r) => setTimeout(r, 50));
    const many = app.lines.filter((l) => String(l.message).startsWith('many database queries'));
    expect(many).toHaveLength(1);
    expect(many[0]).toMatchObject({ route: '/queries/:n', queries: MAX_QUERIES_PER_REQUEST + 2, requestId: 'req-123' });
  });

  it('counts queries per request, not across concurrent requests', async () => {
    app.lines.length = 0;
    await Promise.all(Array.from({ length: 4 }, () => app.get('/queries/4')));
    await new Promise((r) => setTimeout(r, 50));
    expect(app.lines.filter((l) => String(l.message).startsWith('many database queries'))).toHaveLength(0);
  });
});
