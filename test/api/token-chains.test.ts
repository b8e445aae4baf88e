// API tokens answer to the user at their root: never more than that user's current role, and demotion, deletion
// or a password reset reaches every token in the chain.
import { describe, expect, it } from 'vitest';
import { useApi } from './helpers';

const api = useApi();
let n = 0;

/** A new owner, logged in, with an owner token of their own and a token made by that token. */
async function ownerWithChain() {
  const user = { email: `chain${++n}@example.com`, password: `Quartz-lantern-${n}7-Willow` };
  const created = await api.call('POST', '/api/v1/users', {
    auth: { token: api.tokens.owner },
    body: { ...user, role: 'owner' },
  });
  expect(created.status, created.text).toBe(201);
  const session = await api.login(user);
  expect(session.res.status).toBe(200);
  const first = await api.call('POST', '/api/v1/tokens', { auth: session, body: { name: 'script', role: 'owner' } });
  expect(first.status).toBe(201);
  const second = await api.call('POST', '/api/v1/tokens', {
    auth: { token: first.body.token },
    body: { name: 'made by a token', role: 'owner' },
  });
  expect(second.status, second.text).toBe(201);
  return {
    id: created.body.id as number,
    user,
    session,
    first: first.body as { id: number; token: string },
    second: second.body as { id: number; token: string; createdById: number; createdByTokenId: number },
  };
}

const status = (token: string, path: string) => api.call('GET', path, { auth: { token } }).then((r) => r.status);

describe('token chains', () => {
  it('a token made by a token records the user at the root and the token that made it', async () => {
    const c = await ownerWithChain();
    expect(c.second.createdById).toBe(c.id);
    expect(c.second.createdByTokenId).toBe(c.first.id);
    const listed = await api.call('GET', '/api/v1/tokens?per_page=100', { auth: { token: api.tokens.owner } });
    expect(listed.body.items.find((t: { id: number }) => t.id === c.second.id)).toMatchObject({
      createdById: c.id,
      createdByTokenId: c.first.id,
    });
  });

  it('demoting the user brings every token in the chain down to the new role, at once', async () => {
    const c = await ownerWithChain();
    for (const t of [c.first, c.second]) expect(await status(t.token, '/api/v1/users')).toBe(200);
    const demote = await api.call('PATCH', `/api/v1/users/${c.id}`, {
      auth: { token: api.tokens.owner },
      body: { role: 'viewer' },
    });
    expect(demote.status).toBe(200);
    expect(demote.body.role).toBe('viewer');
    for (const t of [c.first, c.second]) {
      expect(await status(t.token, '/api/v1/users')).toBe(403); // owner-only
      expect(await status(t.token, '/api/v1/bots')).toBe(200); // still a viewer
      expect(
        await api
          .call('POST', '/api/v1/exports', { auth: { token: t.token }, body: { kind: 'groups' } })
          .then((r) => r.status),
      ).toBe(403); // admin+
    }
    const rows = await api.ctx.db.apiToken.findMany({ where: { id: { in: [c.first.id, c.second.id] } } });
    expect(rows.map((r) => r.role)).toEqual(['viewer', 'viewer']);
    // Their session ended with the demotion.
    expect((await api.call('GET', '/api/v1/auth/me', { auth: c.session })).status).toBe(401);
  });

  it("a token never exceeds its user's current role, whatever its row says", async () => {
    const c = await ownerWithChain();
    await api.call('PATCH', `/api/v1/users/${c.id}`, { auth: { token: api.tokens.owner }, body: { role: 'admin' } });
    // Someone (an old row, a bug, a hand edit) leaves the token at owner: it still acts as an admin.
    await api.ctx.db.apiToken.update({ where: { id: c.second.id }, data: { role: 'owner' } });
    await api.app.locals.auth.invalidate();
    expect(await status(c.second.token, '/api/v1/users')).toBe(403);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: { token: c.second.token } })).body.role).toBe('admin');
  });

  it('deleting the user revokes every token in the chain, also the one a token made', async () => {
    const c = await ownerWithChain();
    const del = await api.call('DELETE', `/api/v1/users/${c.id}`, { auth: { token: api.tokens.owner } });
    expect(del.status).toBe(204);
    for (const t of [c.first, c.second]) expect(await status(t.token, '/api/v1/bots')).toBe(401);
  });

  it("a password reset ends the user's sessions and revokes their tokens", async () => {
    const c = await ownerWithChain();
    const reset = await api.call('PATCH', `/api/v1/users/${c.id}`, {
      auth: { token: api.tokens.owner },
      body: { password: 'Marble-orchid-93-Tundra' },
    });
    expect(reset.status).toBe(200);
    for (const t of [c.first, c.second]) expect(await status(t.token, '/api/v1/bots')).toBe(401);
    expect((await api.call('GET', '/api/v1/auth/me', { auth: c.session })).status).toBe(401);
    const audit = await api.ctx.db.adminAuditLog.findFirst({
      where: { action: 'user.update', resourceId: String(c.id) },
      orderBy: { id: 'desc' },
    });
    expect(audit?.newValues).toMatchObject({ passwordChanged: true, tokensRevoked: 2, sessionsRevoked: 1 });
  });

  it('a token whose user row is gone (or that never had one) is refused', async () => {
    const c = await ownerWithChain();
    await api.ctx.db.apiToken.update({ where: { id: c.second.id }, data: { createdById: null } });
    await api.app.locals.auth.invalidate();
    expect(await status(c.second.token, '/api/v1/bots')).toBe(401);
  });
});
