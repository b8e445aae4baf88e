// TRUST_PROXY decides whose X-Forwarded-* headers count. With no proxy trusted, every client's claimed address is
// ignored: they share the address the connection comes from, and nothing is taken for https.
import { describe, expect, it } from 'vitest';
import { OWNER, useApi } from './helpers';

const api = useApi({ TRUST_PROXY: 'false', LOGIN_RATE_LIMIT_PER_ACCOUNT: '2' });

describe('TRUST_PROXY=false', () => {
  it('X-Forwarded-For and X-Forwarded-Proto from an untrusted hop are ignored', async () => {
    for (let i = 0; i < 2; i++) {
      const r = await api.call('POST', '/api/v1/auth/login', {
        body: { email: OWNER.email, password: `nope-${i}-nope-nope` },
        headers: { 'x-forwarded-for': '203.0.113.5' },
      });
      expect(r.status).toBe(401);
    }
    // A "different" address is the same connection address: the limit applies.
    const other = await api.call('POST', '/api/v1/auth/login', {
      body: OWNER,
      headers: { 'x-forwarded-for': '198.51.100.7', 'x-forwarded-proto': 'https' },
    });
    expect(other.status).toBe(429);
    const audit = await api.ctx.db.adminAuditLog.findFirst({
      where: { action: 'auth.login_failed' },
      orderBy: { id: 'desc' },
    });
    expect(audit?.ip).toMatch(/127\.0\.0\.1/);
  });
});
