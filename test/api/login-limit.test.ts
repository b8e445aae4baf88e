import { describe, expect, it } from 'vitest';
import { ADMIN, VIEWER, useApi } from './helpers';

const api = useApi({ LOGIN_RATE_LIMIT_PER_ACCOUNT: '3', LOGIN_RATE_LIMIT_PER_IP: '10' });

describe('login rate limits (Redis)', () => {
  it('locks an account after repeated failures, then the IP after too many attempts', async () => {
    for (let i = 0; i < 3; i++) {
      expect((await api.call('POST', '/api/v1/auth/login', { body: { email: VIEWER.email, password: `wrong-${i}-password` } })).status).toBe(401);
    }
    const locked = await api.call('POST', '/api/v1/auth/login', { body: VIEWER });
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    // Case and spaces do not make a new account key.
    expect((await api.call('POST', '/api/v1/auth/login', { body: { ...VIEWER, email: ` ${VIEWER.email.toUpperCase()} ` } })).status).toBe(429);
    // Another account is not locked, and successful logins do not count against it.
    expect((await api.login(ADMIN)).res.status).toBe(200);
    expect((await api.login(ADMIN)).res.status).toBe(200);
    // The IP budget (10) is spent by now (4 + 1 + 2 = 7 counted, 3 more allowed).
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await api.call('POST', '/api/v1/auth/login', { body: { email: `x${i}@example.com`, password: 'irrelevant-pw' } })).status);
    expect(statuses).toEqual([401, 401, 401, 429]);
    const keys = await api.redis.redis.keys(`${api.redis.prefix}:ratelimit:*`);
    expect(keys.length).toBeGreaterThanOrEqual(2);
  });
});
