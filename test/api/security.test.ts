import fc from 'fast-check';
import Transport from 'winston-transport';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logger } from '../../services/core/logger';
import { seedBot, useApi } from './helpers';

const api = useApi();

/** Every log line written while this file runs, to check no secret reaches the logs. */
const lines: string[] = [];
class Capture extends Transport {
  override log(info: unknown, next: () => void) {
    lines.push(JSON.stringify(info));
    next();
  }
}
const capture = new Capture();
const previousLevel = logger.level;
beforeAll(() => {
  logger.level = 'debug';
  logger.add(capture);
});
afterAll(() => {
  logger.remove(capture);
  logger.level = previousLevel;
});

const SQLI = [
  "'; DROP TABLE protected_groups; --",
  "%' OR '1'='1",
  "\\'; SELECT pg_sleep(5); --",
  'Crypto:* | !x',
  "') OR 1=1 --",
  '$$ $1 \\x00',
  '<script>alert(1)</script>',
];

const noStack = (text: string) => !/\bat .+\(.+:\d+:\d+\)|node_modules|\.ts:\d+/.test(text);

let seeded: Awaited<ReturnType<typeof seedBot>>;
beforeAll(async () => {
  seeded = await seedBot(api);
});

describe('hostile input', () => {
  it('fuzzed query parameters never yield a 5xx or a stack trace', async () => {
    const gets = api.app.locals.routes.filter((r) => r.method === 'get');
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.constantFrom(...SQLI),
      fc.integer().map(String),
      fc.constantFrom(
        '-1',
        '0',
        '1001',
        '1e9',
        '99999999999999999999',
        'NaN',
        'true',
        '',
        '2026-01-01T00:00:00Z',
        '../../etc/passwd',
      ),
    );
    const names = [
      'page',
      'per_page',
      'q',
      'bot_id',
      'enabled',
      'chat_id',
      'user_id',
      'status',
      'from',
      'to',
      'cursor',
      'limit',
      'action',
      'bucket',
      'period',
      'range',
      'role',
      'kind',
      'active',
    ];
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...gets),
        fc.dictionary(fc.constantFrom(...names), value, { maxKeys: 4 }),
        fc.constantFrom('1', '999999', 'abc', '-5', '1.5'),
        async (route, query, id) => {
          const path = route.path.replace(':chart', 'top-groups').replace(/:(\w+)/g, id);
          const res = await api.call('GET', `/api/v1${path}?${new URLSearchParams(query)}`, {
            auth: { token: api.tokens.owner },
          });
          expect(res.status, `${path} ${JSON.stringify(query)} → ${res.text.slice(0, 200)}`).toBeLessThan(500);
          expect(noStack(res.text)).toBe(true);
          if (res.status >= 400) expect(res.body.error.requestId).toBeTruthy();
        },
      ),
      { numRuns: 300 },
    );
  });

  it('fuzzed JSON bodies never yield a 5xx or a stack trace', async () => {
    const changes = api.app.locals.routes.filter((r) => r.method !== 'get' && r.body);
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...changes),
        fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.object({ maxDepth: 2 })),
        async (route, body) => {
          // Nonexistent ids: the request goes through validation and stops at 404, changing nothing real.
          const path = route.path.replace(/:(\w+)/g, '999999');
          const res = await api.call(route.method.toUpperCase(), `/api/v1${path}`, {
            auth: { token: api.tokens.owner },
            body,
          });
          expect(
            res.status,
            `${route.method} ${path} ${JSON.stringify(body)} → ${res.text.slice(0, 200)}`,
          ).toBeLessThan(500);
          expect(noStack(res.text)).toBe(true);
        },
      ),
      { numRuns: 200 },
    );
    for (const raw of ['{', '{"email":', 'null', '[]', '"x"', '{"__proto__":{"role":"owner"}}']) {
      const res = await api.call('POST', '/api/v1/auth/login', { rawBody: raw });
      expect(res.status, raw).toBeGreaterThanOrEqual(400);
      expect(res.status, raw).toBeLessThan(500);
    }
  });

  it('SQL injection strings in searches are plain text', async () => {
    for (const q of SQLI) {
      for (const path of ['/groups', '/channels', '/bots']) {
        const res = await api.call('GET', `/api/v1${path}?q=${encodeURIComponent(q)}`, {
          auth: { token: api.tokens.viewer },
        });
        expect(res.status, `${path} ${q}`).toBe(200);
        expect(res.body.total, `${path} ${q}`).toBe(0);
      }
    }
    expect(await api.ctx.db.protectedGroup.count()).toBe(1);
    const hit = await api.call('GET', `/api/v1/groups?q=${encodeURIComponent('crypto trad')}`, {
      auth: { token: api.tokens.viewer },
    });
    expect(hit.body.total).toBe(1);
    // Query operators in the input are dropped, not interpreted: this is a search for the word "crypto".
    const ops = await api.call('GET', `/api/v1/groups?q=${encodeURIComponent('crypto & ( | !')}`, {
      auth: { token: api.tokens.viewer },
    });
    expect(ops.status).toBe(200);
    expect(ops.body.total).toBe(1);
  });

  it('answers 413 JSON for an oversized body and 400 for pagination out of bounds', async () => {
    const big = await api.call('POST', '/api/v1/auth/login', {
      rawBody: JSON.stringify({ email: 'a@b.c', password: 'x'.repeat(200_000) }),
    });
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('payload_too_large');
    for (const q of ['page=0', 'page=1001', 'per_page=0', 'per_page=101', 'page=abc', 'per_page=1.5']) {
      const res = await api.call('GET', `/api/v1/groups?${q}`, { auth: { token: api.tokens.viewer } });
      expect(res.status, q).toBe(400);
      expect(res.body.error.code).toBe('validation_failed');
    }
    const ok = await api.call('GET', '/api/v1/groups?page=1000&per_page=100', { auth: { token: api.tokens.viewer } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ items: [], page: 1000, perPage: 100, total: 1 });
    const unknown = await api.call('GET', '/api/v1/nope', { auth: { token: api.tokens.viewer } });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('not_found');
  });

  it('no response or log line carries a bot token or a password hash', async () => {
    const bodies: string[] = [];
    for (const route of api.app.locals.routes.filter((r) => r.method === 'get')) {
      const path = route.path
        .replace(':chart', 'bot-health')
        .replace(
          ':id',
          String(
            route.path.startsWith('/groups')
              ? seeded.group.id
              : route.path.startsWith('/channels')
                ? seeded.channel.id
                : route.path.startsWith('/bots')
                  ? seeded.botId
                  : 1,
          ),
        );
      bodies.push((await api.call('GET', `/api/v1${path}`, { auth: { token: api.tokens.owner } })).text);
    }
    bodies.push(
      (
        await api.call('PATCH', `/api/v1/bots/${seeded.botId}`, {
          auth: { token: api.tokens.admin },
          body: { token: seeded.simBot.token },
        })
      ).text,
    );
    bodies.push(
      (
        await api.call('POST', '/api/v1/bots', {
          auth: { token: api.tokens.admin },
          body: { token: seeded.simBot.token },
        })
      ).text,
    );
    bodies.push(
      (
        await api.call('POST', '/api/v1/bots', {
          auth: { token: api.tokens.admin },
          body: { token: '123456:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA' },
        })
      ).text,
    );
    bodies.push((await api.call('GET', '/api/v1/audit-log?limit=100', { auth: { token: api.tokens.owner } })).text);
    const secret = seeded.simBot.token.split(':')[1]!;
    const hashes = (await api.ctx.db.adminUser.findMany()).map((u) => u.passwordHash);
    const encrypted = (await api.ctx.db.botInstance.findMany()).map((b) => b.tokenEncrypted);
    for (const text of [...bodies, ...lines]) {
      expect(text).not.toContain(secret);
      expect(text).not.toContain('$argon2');
      expect(text).not.toMatch(/tokenEncrypted|passwordHash|tokenHash/);
      for (const h of [...hashes, ...encrypted]) expect(text).not.toContain(h);
    }
  });
});
