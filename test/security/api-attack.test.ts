import { gunzipSync } from 'node:zlib';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useTestDatabase } from '../support/db';
import { waitFor } from '../support/process';
import { useTestRedis } from '../support/redis';
import { noStack, OWNER, securityDeployment } from './helpers';

const database = useTestDatabase();
const redis = useTestRedis();
let s: Awaited<ReturnType<typeof securityDeployment>>;
let owner = '';
let admin = '';
let viewer = '';
let routes: Array<{ method: string; path: string; body: boolean }> = [];
const VIEWER = { email: 'sec-viewer@example.com', password: 'viewer-password-sec-123' };

beforeAll(async () => {
  s = await securityDeployment({
    databaseUrl: database.url,
    redisUrl: redis.url,
    redisPrefix: redis.prefix,
    env: { LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOG_TO_FILE: 'false', LOG_LEVEL: 'warn' },
  });
  const session = await s.login(OWNER);
  const mk = async (role: string) =>
    (
      await s.call('POST', '/api/v1/tokens', {
        cookie: session.cookie,
        csrf: session.csrf,
        body: { name: `sec ${role}`, role },
      })
    ).body.token as string;
  [owner, admin, viewer] = [await mk('owner'), await mk('admin'), await mk('viewer')];
  expect((await s.call('POST', '/api/v1/users', { token: owner, body: { ...VIEWER, role: 'viewer' } })).status).toBe(
    201,
  );
  const doc = (await s.call('GET', '/api/v1/openapi.json')).body as {
    paths: Record<string, Record<string, { requestBody?: unknown }>>;
  };
  routes = Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({ method, path, body: !!op.requestBody })),
  );
});
afterAll(() => s?.d.stop());

const SQLI = ["'; DROP TABLE protected_groups; --", '1 OR 1=1', "%' OR '1'='1", '1; SELECT pg_sleep(5)', '$$ \\x00 $1'];
const FORMULA = ['=HYPERLINK("http://evil.example","x")', "=cmd|' /C calc'!A0", '+1+1', '-2+3', '@SUM(A1:A2)'];
const PATH_VALUES = [
  '0',
  '-1',
  '1.5',
  '99999999999999999999',
  'NaN',
  '%2e%2e%2f%2e%2e%2fetc%2fpasswd',
  '..%2F..%2Fsecret',
  '%00',
  'a'.repeat(3000),
  ...SQLI.map(encodeURIComponent),
  ...FORMULA.map(encodeURIComponent),
];

/** Open to anyone: logging in, the one-time owner set-up (refused once an owner exists) and the API's description. */
const PUBLIC_PATHS = ['/auth/login', '/setup', '/openapi.json'];

describe('security: the admin API under attack (real process)', () => {
  // test/api/routes.test.ts checks the same against the in-process app, plus the full role matrix.
  it('refuses every route without credentials (and with forged ones)', async () => {
    const open: string[] = [];
    for (const r of routes) {
      const path = `/api/v1${r.path.replace('{chart}', 'top-groups').replace(/\{\w+\}/g, '1')}`;
      for (const creds of [{}, { token: 'nzk_forged' }, { cookie: 'nezuko_session=forged' }]) {
        const res = await s.call(r.method.toUpperCase(), path, { ...creds, body: r.body ? {} : undefined });
        if (res.status !== 401 && !PUBLIC_PATHS.includes(r.path))
          open.push(`${r.method} ${r.path} ${JSON.stringify(creds)} → ${res.status}`);
      }
    }
    for (const p of ['/admin/queues', '/admin/queues/api/queues']) expect((await s.call('GET', p)).status).toBe(401);
    console.log(
      `[security:api] routes=${routes.length} refused without credentials: ${routes.filter((r) => !PUBLIC_PATHS.includes(r.path)).length} (login, the owner set-up and the OpenAPI document are public)`,
    );
    expect(routes.length).toBeGreaterThanOrEqual(40);
    expect(open).toEqual([]);
  });

  it(
    'fuzzed path parameters and bodies on every route never yield a 5xx or a stack trace',
    { timeout: 90_000 },
    async () => {
      let requests = 0;
      const bad: string[] = [];
      const check = (label: string, res: { status: number; text: string }) => {
        requests++;
        if (res.status >= 500 || !noStack(res.text)) bad.push(`${label} → ${res.status} ${res.text.slice(0, 160)}`);
      };
      const value = fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom(...SQLI, ...FORMULA),
        fc.integer(),
        fc.double(),
        fc.boolean(),
        fc.constant(null),
        fc.jsonValue({ maxDepth: 2 }),
      );
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom(...routes.filter((r) => r.path !== '/auth/login')),
          fc.constantFrom(...PATH_VALUES),
          fc.dictionary(
            fc.constantFrom(
              'name',
              'role',
              'token',
              'kind',
              'filters',
              'email',
              'password',
              'enabled',
              'title',
              'mode',
              'channels',
              'language',
              'expiresInDays',
              'customPromptText',
              'botId',
              'username',
            ),
            value,
            { maxKeys: 5 },
          ),
          async (route, param, body) => {
            const path = `/api/v1${route.path.replace(/\{\w+\}/g, param)}`;
            const res = await s.call(route.method.toUpperCase(), path, {
              token: owner,
              body: route.method === 'get' ? undefined : body,
            });
            check(`${route.method} ${path.slice(0, 80)} ${JSON.stringify(body).slice(0, 80)}`, res);
          },
        ),
        { numRuns: 1000 },
      );
      // Malformed, oversized and oddly typed bodies on every route that takes one.
      for (const route of routes.filter((r) => r.body)) {
        const path = `/api/v1${route.path.replace(/\{\w+\}/g, '999999')}`;
        for (const raw of [
          '{',
          '{"name":',
          '[1,2',
          'nul',
          '"str"',
          '{"__proto__":{"role":"owner"}}',
          JSON.stringify({ x: 'y'.repeat(2_000_000) }),
          '\u0000\u0001',
        ]) {
          check(
            `${route.method} ${route.path} raw ${raw.slice(0, 20)}`,
            await s.call(route.method.toUpperCase(), path, { token: owner, raw }),
          );
        }
        check(
          `${route.method} ${route.path} text/plain`,
          await s.call(route.method.toUpperCase(), path, {
            token: owner,
            raw: 'a=1',
            headers: { 'content-type': 'text/plain' },
          }),
        );
      }
      console.log(`[security:api] fuzzed requests=${requests} 5xx-or-stack=${bad.length}`);
      expect(bad).toEqual([]);
    },
  );

  it('sessions and API tokens revoke; CSRF is enforced; login is rate-limited', async () => {
    // Expiry of sessions and tokens: test/api/auth.test.ts ("an expired session … are refused").
    const session = await s.login(VIEWER);
    expect(session.status).toBe(200);
    expect((await s.call('GET', '/api/v1/auth/me', { cookie: session.cookie })).status).toBe(200);
    expect(
      (await s.call('POST', '/api/v1/auth/logout', { cookie: session.cookie, csrf: session.csrf })).status,
    ).toBeLessThan(300);
    expect((await s.call('GET', '/api/v1/auth/me', { cookie: session.cookie })).status).toBe(401);

    const created = await s.call('POST', '/api/v1/tokens', {
      token: owner,
      body: { name: 'short-lived', role: 'viewer' },
    });
    expect((await s.call('GET', '/api/v1/bots', { token: created.body.token })).status).toBe(200);
    expect((await s.call('DELETE', `/api/v1/tokens/${created.body.id}`, { token: owner })).status).toBeLessThan(300);
    await waitFor(
      async () => (await s.call('GET', '/api/v1/bots', { token: created.body.token })).status === 401,
      5_000,
      'the revoked token to be refused',
    );

    const ownerSession = await s.login(OWNER);
    const noCsrf = await s.call('POST', '/api/v1/tokens', {
      cookie: ownerSession.cookie,
      body: { name: 'csrf', role: 'viewer' },
    });
    expect(noCsrf.status).toBe(403);
    const crossSite = await s.call('POST', '/api/v1/tokens', {
      cookie: ownerSession.cookie,
      csrf: ownerSession.csrf,
      body: { name: 'csrf', role: 'viewer' },
      headers: { origin: 'https://evil.example' },
    });
    expect(crossSite.status).toBe(403);

    const statuses: number[] = [];
    for (let i = 0; i < 5; i++)
      statuses.push(
        (await s.call('POST', '/api/v1/auth/login', { body: { email: VIEWER.email, password: `wrong-password-${i}` } }))
          .status,
      );
    const right = await s.call('POST', '/api/v1/auth/login', { body: VIEWER });
    console.log(`[security:api] wrong logins → ${statuses.join(',')}; then the right password → ${right.status}`);
    expect(statuses.slice(0, 3).every((c) => c === 401)).toBe(true);
    expect(statuses.slice(3).every((c) => c === 429)).toBe(true);
    expect(right.status).toBe(429);
  });

  it(
    'a viewer cannot request or download exports; nobody reads a path outside EXPORT_DIR; formulas are escaped',
    { timeout: 40_000 },
    async () => {
      expect((await s.call('POST', '/api/v1/exports', { token: viewer, body: { kind: 'groups' } })).status).toBe(403);
      const bot = await s.d.addBot();
      await s.d.db.protectedGroup.create({
        data: { botInstanceId: bot.instanceId, chatId: -1001234567890n, title: FORMULA[0]!, enabled: true },
      });
      const e = await s.call('POST', '/api/v1/exports', { token: admin, body: { kind: 'groups' } });
      expect(e.status).toBe(202);
      await waitFor(
        async () => (await s.call('GET', `/api/v1/exports/${e.body.id}`, { token: viewer })).body.status === 'done',
        20_000,
        'the export',
      );
      expect((await s.call('GET', `/api/v1/exports/${e.body.id}/download`, { token: viewer })).status).toBe(403);
      const file = await s.call('GET', `/api/v1/exports/${e.body.id}/download`, { token: admin });
      expect(file.status).toBe(200);
      const csv = gunzipSync(file.buf).toString('utf8');
      expect(csv).toContain(`'${FORMULA[0]!.replaceAll('"', '""')}`);
      expect(csv).not.toMatch(/(^|,)"?=HYPERLINK/m);

      // Rows pointing outside EXPORT_DIR (a tampered database, a bad migration): refused, never streamed.
      const outside = [];
      for (const filePath of [
        '../../../../etc/passwd',
        '/etc/passwd',
        `../${s.logDir.split('/').pop()}/x`,
        'sub/../../etc/hostname',
        '..',
      ]) {
        const row = await s.d.db.export.create({
          data: {
            kind: 'groups',
            filters: {},
            status: 'done',
            filePath,
            sha256: 'a'.repeat(64),
            rows: 1,
            bytes: 10,
            startedAt: new Date(),
            finishedAt: new Date(),
          },
        });
        const res = await s.call('GET', `/api/v1/exports/${row.id}/download`, { token: owner });
        outside.push(`${filePath} → ${res.status}`);
        expect(res.status, filePath).toBe(404);
        expect(res.text).not.toContain('root:');
        expect(noStack(res.text)).toBe(true);
      }
      for (const id of ['..%2F..%2Fetc%2Fpasswd', '%2e%2e', '1%00'])
        expect((await s.call('GET', `/api/v1/exports/${id}/download`, { token: owner })).status).toBeLessThan(500);
      console.log(`[security:api] downloads outside EXPORT_DIR: ${outside.join('; ')}`);
    },
  );
});
