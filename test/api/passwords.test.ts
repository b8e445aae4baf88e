// The password policy (length, and not common or easy to guess, checked offline) and the cap on sessions per user.
import { describe, expect, it } from 'vitest';
import { useApi, VIEWER } from './helpers';

const api = useApi({ SESSIONS_PER_USER: '3' });
const createUser = (email: string, password: string) =>
  api.call('POST', '/api/v1/users', { auth: { token: api.tokens.owner }, body: { email, password, role: 'viewer' } });

describe('password policy', () => {
  it('refuses short, repeated, common and guessable passwords with a reason, and takes a passphrase', async () => {
    const refused: Record<string, string> = {
      'short-pw': 'at least 12 characters',
      '            ': 'too easy to guess', // twelve spaces
      aaaaaaaaaaaa: 'too easy to guess',
      password1234: 'too easy to guess',
      qwertyuiop123: 'too easy to guess',
      'iloveyou2024!': 'too easy to guess',
      'dana.smith@example.org1': 'too easy to guess', // the account's own email
    };
    for (const [password, reason] of Object.entries(refused)) {
      const r = await createUser('dana.smith@example.org', password);
      expect(r.status, JSON.stringify(password)).toBe(400);
      expect(r.body.error.code).toBe('validation_failed');
      expect(r.body.error.details).toEqual([
        expect.objectContaining({ path: 'body.password', message: expect.stringContaining(reason) }),
      ]);
      expect(r.text).not.toContain(password.trim() || 'never');
    }
    expect((await createUser('dana.smith@example.org', 'Marble-orchid-93-Tundra')).status).toBe(201);
  });

  it('applies to a password reset too', async () => {
    const user = await api.ctx.db.adminUser.findFirstOrThrow({ where: { email: VIEWER.email } });
    const weak = await api.call('PATCH', `/api/v1/users/${user.id}`, {
      auth: { token: api.tokens.owner },
      body: { password: 'aaaaaaaaaaaa' },
    });
    expect(weak.status).toBe(400);
  });
});

describe('sessions per user', () => {
  it('a new login beyond SESSIONS_PER_USER ends the oldest sessions', async () => {
    const sessions = [];
    for (let i = 0; i < 5; i++) sessions.push(await api.login(VIEWER, { 'x-forwarded-for': `198.51.100.${30 + i}` }));
    const alive = await Promise.all(
      sessions.map(async (s) => (await api.call('GET', '/api/v1/auth/me', { auth: s })).status),
    );
    expect(alive).toEqual([401, 401, 200, 200, 200]);
    const listed = await api.call('GET', '/api/v1/auth/sessions', { auth: sessions[4]! });
    expect(listed.body.items).toHaveLength(3);
  });
});
