import { describe, expect, it } from 'vitest';
import { ADMIN, OWNER, VIEWER, useApi } from './helpers';

const api = useApi();

const strip = (body: { error: Record<string, unknown> }) => ({ ...body.error, requestId: undefined });

describe('sessions', () => {
  it('sets an HttpOnly SameSite=Strict cookie, Secure only over TLS, and stores only the hash', async () => {
    const s = await api.login(ADMIN);
    expect(s.res.status).toBe(200);
    const [session, csrf] = s.res.headers.getSetCookie();
    expect(session).toMatch(/^nezuko_session=/);
    expect(session).toMatch(/HttpOnly/i);
    expect(session).toMatch(/SameSite=Strict/i);
    expect(session).not.toMatch(/Secure/i);
    expect(csrf).toMatch(/^nezuko_csrf=/);
    expect(csrf).not.toMatch(/HttpOnly/i);
    const token = /nezuko_session=([^;]+)/.exec(session!)![1]!;
    const rows = await api.ctx.db.adminSession.findMany();
    expect(rows.some((r) => r.tokenHash === token)).toBe(false);
    expect(rows.every((r) => /^[0-9a-f]{64}$/.test(r.tokenHash))).toBe(true);
    // Behind a TLS-terminating proxy on loopback the cookie is Secure.
    const tls = await api.login(ADMIN, { 'x-forwarded-proto': 'https' });
    expect(tls.res.headers.getSetCookie()[0]).toMatch(/Secure/);
  });

  it('answers the same for an unknown email and a wrong password, and takes comparable time', async () => {
    const timed = async (email: string, password: string) => {
      const started = performance.now();
      const res = await api.call('POST', '/api/v1/auth/login', { body: { email, password } });
      return { res, ms: performance.now() - started };
    };
    // The first unknown email also hashes the dummy password it is checked against: not measured.
    await timed('first-nobody@example.com', 'whatever-password');
    const unknown: Array<Awaited<ReturnType<typeof timed>>> = [];
    const wrong: Array<Awaited<ReturnType<typeof timed>>> = [];
    // Alternating, one wrong guess per account (each account allows a few), so a busy moment hits both sides.
    for (const [i, user] of [ADMIN, OWNER, VIEWER].entries()) {
      unknown.push(await timed(`nobody${i}@example.com`, 'whatever-password'));
      wrong.push(await timed(user.email, 'wrong-password-1'));
    }
    for (const { res } of [...unknown, ...wrong]) expect(res.status).toBe(401);
    expect(strip(unknown[0]!.res.body)).toEqual(strip(wrong[0]!.res.body));
    // Both paths run one argon2 verification: neither is an order of magnitude faster.
    const median = (xs: Array<{ ms: number }>) => xs.map((x) => x.ms).sort((a, b) => a - b)[1]!;
    const [u, w] = [median(unknown), median(wrong)];
    expect(Math.max(u, w) / Math.min(u, w)).toBeLessThan(5);
  });

  it('logout ends the session; logout-all ends every session of the user', async () => {
    const a = await api.login(VIEWER);
    const b = await api.login(VIEWER);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: a })).status).toBe(200);
    expect((await api.call('POST', '/api/v1/auth/logout', { auth: a })).status).toBe(204);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: a })).status).toBe(401);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: b })).status).toBe(200);
    const c = await api.login(VIEWER);
    const all = await api.call('POST', '/api/v1/auth/logout-all', { auth: c });
    expect(all.status).toBe(200);
    expect(all.body.sessionsRevoked).toBeGreaterThanOrEqual(2);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: b })).status).toBe(401);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: c })).status).toBe(401);
  });

  it('an expired session, a deleted user and a revoked or expired token are refused', async () => {
    const s = await api.login(ADMIN);
    const me = await api.call('GET', '/api/v1/auth/me', { auth: s });
    await api.ctx.db.adminSession.update({
      where: {
        id: (
          await api.ctx.db.adminSession.findFirstOrThrow({
            where: { adminUserId: me.body.user.id },
            orderBy: { id: 'desc' },
          })
        ).id,
      },
      data: { expiresAt: new Date(Date.now() - 1000), createdAt: new Date(Date.now() - 5000) },
    });
    // A change made behind the API's back is seen once the in-memory credential cache (AUTH_CACHE_TTL_MS) lapses.
    await expect
      .poll(async () => (await api.call('GET', '/api/v1/auth/me', { auth: s })).status, {
        timeout: 5_000,
        interval: 200,
      })
      .toBe(401);

    const owner = { token: api.tokens.owner };
    const created = await api.call('POST', '/api/v1/tokens', { auth: owner, body: { name: 'script', role: 'viewer' } });
    expect(created.status).toBe(201);
    expect(created.body.token).toMatch(/^nzk_/);
    const t = { token: created.body.token as string };
    expect((await api.call('GET', '/api/v1/bots', { auth: t })).status).toBe(200);
    expect((await api.call('POST', '/api/v1/bots', { auth: t, body: {} })).status).toBe(403);
    const listed = await api.call('GET', '/api/v1/tokens', { auth: owner });
    expect(listed.text).not.toContain(created.body.token);
    expect((await api.call('DELETE', `/api/v1/tokens/${created.body.id}`, { auth: owner })).status).toBe(204);
    expect((await api.call('GET', '/api/v1/bots', { auth: t })).status).toBe(401);

    const expiring = await api.call('POST', '/api/v1/tokens', {
      auth: owner,
      body: { name: 'short', role: 'viewer', expiresInDays: 1 },
    });
    await api.ctx.db.apiToken.update({
      where: { id: expiring.body.id },
      data: { expiresAt: new Date(Date.now() - 1) },
    });
    await expect
      .poll(async () => (await api.call('GET', '/api/v1/bots', { auth: { token: expiring.body.token } })).status, {
        timeout: 5_000,
        interval: 200,
      })
      .toBe(401);

    const user = await api.call('POST', '/api/v1/users', {
      auth: owner,
      body: { email: 'Temp@Example.com', password: 'temporary-password-1', role: 'admin' },
    });
    expect(user.status).toBe(201);
    expect(user.body.email).toBe('temp@example.com');
    expect(user.body.passwordHash).toBeUndefined();
    const temp = await api.login({ email: 'temp@example.com', password: 'temporary-password-1' });
    expect((await api.call('GET', '/api/v1/auth/me', { auth: temp })).status).toBe(200);
    expect((await api.call('DELETE', `/api/v1/users/${user.body.id}`, { auth: owner })).status).toBe(204);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: temp })).status).toBe(401);
    expect((await api.login({ email: 'temp@example.com', password: 'temporary-password-1' })).res.status).toBe(401);
  });

  it('keeps at least one owner', async () => {
    const owner = await api.ctx.db.adminUser.findFirstOrThrow({ where: { email: OWNER.email } });
    const res = await api.call('PATCH', `/api/v1/users/${owner.id}`, {
      auth: { token: api.tokens.owner },
      body: { role: 'viewer' },
    });
    expect(res.status).toBe(409);
  });
});

describe('CSRF', () => {
  it('cookie-authenticated changes need the X-CSRF-Token of the session and an allowed Origin', async () => {
    const s = await api.login(OWNER);
    const body = { name: 'csrf probe', role: 'viewer' };
    const none = await api.call('POST', '/api/v1/tokens', { auth: { cookie: s.cookie }, body });
    expect(none.status).toBe(403);
    expect(none.body.error.code).toBe('csrf_failed');
    const wrong = await api.call('POST', '/api/v1/tokens', { auth: { cookie: s.cookie, csrf: 'x'.repeat(64) }, body });
    expect(wrong.status).toBe(403);
    // Another session's token does not fit this session.
    const other = await api.login(OWNER);
    expect(
      (await api.call('POST', '/api/v1/tokens', { auth: { cookie: s.cookie, csrf: other.csrf }, body })).status,
    ).toBe(403);
    const crossOrigin = await api.call('POST', '/api/v1/tokens', {
      auth: s,
      body,
      headers: { origin: 'https://evil.example' },
    });
    expect(crossOrigin.status).toBe(403);
    const ok = await api.call('POST', '/api/v1/tokens', { auth: s, body, headers: { origin: api.base } });
    expect(ok.status).toBe(201);
    // Reads need no CSRF token; bearer tokens need none either (browsers never attach them on their own).
    expect((await api.call('GET', '/api/v1/tokens', { auth: { cookie: s.cookie } })).status).toBe(200);
    expect((await api.call('POST', '/api/v1/tokens', { auth: { token: api.tokens.owner }, body })).status).toBe(201);
  });

  it('Bull Board changes with a session must come from the same origin', async () => {
    const s = await api.login(OWNER);
    const path = '/admin/queues/api/queues/maintenance/retry/failed';
    expect((await api.call('PUT', path, { auth: { cookie: s.cookie } })).status).toBe(403);
    expect(
      (await api.call('PUT', path, { auth: { cookie: s.cookie }, headers: { origin: 'https://evil.example' } })).status,
    ).toBe(403);
    expect(
      (
        await api.call('PUT', path, {
          auth: { cookie: s.cookie },
          headers: { origin: api.base, 'sec-fetch-site': 'same-origin' },
        })
      ).status,
    ).toBeLessThan(300);
  });
});
