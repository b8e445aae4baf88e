// One-time owner set-up: with no owner, the API issues a code (printed on its console: test/core/first-run.test.ts)
// that creates the owner once. Wrong, reused and expired codes are refused, and once an owner exists the set-up
// is gone.
import { describe, expect, it } from 'vitest';
import { issueSetupCode, SETUP_ATTEMPTS_PER_ADDRESS } from '../../services/api/owner-setup';
import { useApi } from './helpers';
import { openApiChecker } from './openapi-check';

const api = useApi({}, { owner: false });
const OWNER = { email: 'first-owner@example.com', password: 'correct horse battery staple 42' };
let checker: ReturnType<typeof openApiChecker> | undefined;
/** POST /setup; every answer must also be one the OpenAPI document describes. */
const setUp = async (body: Record<string, unknown>) => {
  checker ??= openApiChecker((await api.call('GET', '/api/v1/openapi.json')).body);
  const res = await api.call('POST', '/api/v1/setup', { body });
  expect(checker.problem('POST', '/setup', res), `${res.status} ${res.text}`).toBeNull();
  return res;
};

describe('owner set-up', () => {
  it('is offered while no owner exists, and described in the OpenAPI document', async () => {
    expect(await api.ctx.db.adminUser.count()).toBe(0);
    expect(api.setup?.code).toMatch(/^[0-9A-Z]{4}-[0-9A-Z]{4}-[0-9A-Z]{4}$/);
    expect(api.setup!.expiresAt.getTime() - Date.now()).toBeGreaterThan(29 * 60_000);
    const res = await api.call('GET', '/api/v1/setup');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ needed: true });
    const doc = await api.call('GET', '/api/v1/openapi.json');
    expect(Object.keys(doc.body.paths['/setup'].post.responses)).toEqual(
      expect.arrayContaining(['201', '400', '401', '409', '410', '429']),
    );
    // Only the hash is kept: the code itself is nowhere in Redis.
    const keys = await api.ctx.redis.keys(`${api.redis.prefix}*`);
    for (const key of keys) {
      const type = await api.ctx.redis.type(key);
      const values =
        type === 'hash'
          ? Object.entries(await api.ctx.redis.hgetall(key)).flat()
          : type === 'string'
            ? [await api.ctx.redis.get(key)]
            : [];
      for (const v of [key, ...values]) expect(String(v)).not.toContain(api.setup!.code.replace(/-/g, ''));
    }
  });

  it('refuses a wrong code, and a weak password without spending the code', async () => {
    const wrong = await setUp({ ...OWNER, code: 'AAAA-BBBB-CCCC' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error.code).toBe('invalid_setup_code');
    const weak = await setUp({ ...OWNER, password: 'password1234', code: api.setup!.code });
    expect(weak.status).toBe(400);
    expect(weak.body.error.details[0].path).toBe('body.password');
    expect(await api.ctx.db.adminUser.count()).toBe(0);
  });

  it('refuses an expired code (and then as unknown: it works at most once)', async () => {
    const old = await issueSetupCode(api.ctx, 1);
    await new Promise((r) => setTimeout(r, 20));
    const expired = await setUp({ ...OWNER, code: old!.code });
    expect(expired.status).toBe(410);
    expect(expired.body.error.code).toBe('setup_code_expired');
    expect((await setUp({ ...OWNER, code: old!.code })).status).toBe(401);
    expect(await api.ctx.db.adminUser.count()).toBe(0);
  });

  it('creates the owner once: two requests racing with the right code make one owner, who is logged in', async () => {
    const code = api.setup!.code.toLowerCase().replace(/-/g, ' '); // typed loosely: case and separators do not matter
    const [a, b] = await Promise.all([
      setUp({ ...OWNER, code }),
      setUp({ email: 'someone-else@example.com', password: 'another long passphrase 77', code }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses[0]).toBe(201);
    expect([401, 409]).toContain(statuses[1]);
    const won = a.status === 201 ? a : b;
    expect(won.body.user.role).toBe('owner');
    const owners = await api.ctx.db.adminUser.findMany({ where: { role: 'owner' } });
    expect(owners.map((o) => o.email)).toEqual([won.body.user.email]);
    // The answer logged them in: the session cookie works, and changes take the CSRF token.
    const cookie = won.headers
      .getSetCookie()
      .map((c) => c.split(';')[0])
      .join('; ');
    const me = await api.call('GET', '/api/v1/auth/me', { auth: { cookie } });
    expect(me.body).toMatchObject({ kind: 'session', role: 'owner', user: { email: won.body.user.email } });
    const token = await api.call('POST', '/api/v1/tokens', {
      auth: { cookie, csrf: won.body.csrfToken },
      body: { name: 'first', role: 'viewer' },
    });
    expect(token.status).toBe(201);
    const auditRow = await api.ctx.db.adminAuditLog.findFirst({ where: { action: 'user.create' } });
    expect(auditRow?.newValues).toMatchObject({ role: 'owner', source: 'setup code' });
  });

  it('is gone once an owner exists; a used code stays refused even if the owner is deleted', async () => {
    expect((await api.call('GET', '/api/v1/setup')).body).toEqual({ needed: false });
    const again = await setUp({ ...OWNER, email: 'late@example.com', code: api.setup!.code });
    expect(again.status).toBe(409);
    expect(again.body.error.code).toBe('setup_done');
    // A restart with an owner prints no code.
    expect(await issueSetupCode(api.ctx)).toBeNull();
    // Without an owner again, the old code is still spent: only a new start issues a new one.
    await api.ctx.db.adminUser.updateMany({ data: { deletedAt: new Date() } });
    expect((await api.call('GET', '/api/v1/setup')).body).toEqual({ needed: true });
    const reused = await setUp({ ...OWNER, email: 'late@example.com', code: api.setup!.code });
    expect(reused.status).toBe(401);
    expect(reused.body.error.code).toBe('invalid_setup_code');
  });

  it(`limits attempts per address (${SETUP_ATTEMPTS_PER_ADDRESS} per window)`, async () => {
    const statuses: number[] = [];
    for (let i = 0; i <= SETUP_ATTEMPTS_PER_ADDRESS; i++)
      statuses.push((await setUp({ ...OWNER, code: `ZZZZ-ZZZZ-ZZ${i.toString().padStart(2, '0')}` })).status);
    // Earlier tests in this file spent some of this address's attempts: the limit is reached within one window.
    expect(statuses.at(-1)).toBe(429);
    expect(statuses.filter((s) => s !== 429).every((s) => s === 401)).toBe(true);
    const refused = await setUp({ ...OWNER, code: 'ZZZZ-ZZZZ-ZZZZ' });
    expect(refused.body.error.code).toBe('rate_limited');
  });
});
