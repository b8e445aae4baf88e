// Values PostgreSQL cannot take (a NUL byte, the year 0000, ids past a column's range) are refused with a 400 by the
// shared validation; any PostgreSQL data error (class 22) that still gets through is a 400, never a 500.
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { describeError, sqlState } from '../../services/api/app';
import { seedBot, useApi } from './helpers';

const api = useApi();
const NUL = 'a\u0000b';
const YEAR_0 = '0000-01-01T00:00:00Z';

describe('values PostgreSQL cannot take', () => {
  it('a NUL byte anywhere (login, names, searches, audit filters) is a 400 naming the field', async () => {
    const { botId } = await seedBot(api);
    const owner = { token: api.tokens.owner };
    const cases: Array<[string, string, unknown?]> = [
      ['POST', '/api/v1/auth/login', { email: `x${NUL}@example.com`, password: 'whatever-pw-123' }],
      ['POST', '/api/v1/auth/login', { email: 'owner@example.com', password: `pw${NUL}pw-pw-pw-pw` }],
      ['PATCH', `/api/v1/bots/${botId}`, { name: NUL }],
      ['POST', '/api/v1/users', { email: 'nul@example.com', password: 'Marble-orchid-93-Tundra', displayName: NUL }],
      ['POST', '/api/v1/tokens', { name: NUL }],
      ['GET', `/api/v1/groups?q=${encodeURIComponent(NUL)}`],
      ['GET', `/api/v1/bots?q=${encodeURIComponent(NUL)}`],
      ['GET', `/api/v1/channels?q=${encodeURIComponent(NUL)}`],
      ['GET', `/api/v1/audit-log?action=${encodeURIComponent(NUL)}`],
      ['GET', `/api/v1/audit-log?resource_id=${encodeURIComponent(NUL)}`],
    ];
    for (const [method, path, body] of cases) {
      const r = await api.call(method, path, { auth: path.includes('login') ? undefined : owner, body });
      expect(r.status, `${method} ${path} → ${r.text}`).toBe(400);
      expect(r.body.error.details[0].message).toMatch(/NUL/);
    }
  });

  it('the year 0000 in a date filter is a 400, on every route that takes dates, exports included', async () => {
    const owner = { token: api.tokens.owner };
    for (const path of [
      `/api/v1/verifications?from=${YEAR_0}`,
      `/api/v1/verifications?to=0001-01-01T00:30:00%2B01:00`, // year 0000 once in UTC
      `/api/v1/audit-log?from=${YEAR_0}`,
      `/api/v1/stats/analytics/verification-trends?from=${YEAR_0}&bucket=day`,
      `/api/v1/stats/analytics/user-growth?to=${YEAR_0}`,
    ]) {
      const r = await api.call('GET', path, { auth: owner });
      expect(r.status, `${path} → ${r.text}`).toBe(400);
      expect(r.text).toMatch(/year must be 0001 to 9999/);
    }
    for (const filters of [
      { from: YEAR_0 },
      { botId: 99_999_999_999 },
      { groupChatId: '9999999999999999999' },
      { groupChatId: `-1${NUL}` },
    ]) {
      const r = await api.call('POST', '/api/v1/exports', { auth: owner, body: { kind: 'verifications', filters } });
      expect(r.status, `${JSON.stringify(filters)} → ${r.text}`).toBe(400);
    }
    expect(await api.ctx.db.export.count()).toBe(0); // nothing was queued
  });

  it('a PostgreSQL data error (class 22) from Prisma or node-postgres maps to a 400 without its text', async () => {
    const prismaError = await api.ctx.db.$queryRawUnsafe(`SELECT '0000-01-01'::timestamptz`).catch((e: unknown) => e);
    const client = new pg.Client({ connectionString: api.db.url });
    await client.connect();
    const pgError = await client.query('SELECT $1::text', ['a\u0000b']).catch((e: unknown) => e);
    const overflow = await client.query('SELECT $1::int', ['99999999999']).catch((e: unknown) => e);
    await client.end();
    for (const err of [prismaError, pgError, overflow]) {
      expect(sqlState(err)).toMatch(/^22/);
      expect(describeError(err)).toEqual({
        status: 400,
        code: 'invalid_value',
        message: 'A value in the request is out of range or malformed',
      });
    }
    expect(describeError(new Error('boom')).status).toBe(500);
  });
});
