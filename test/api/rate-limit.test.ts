// The general request limit of the admin API: per credential (session or API token), per address without one,
// counted in Redis, answered with a 429 JSON error and Retry-After. Small limits here so a test reaches them.
import { describe, expect, it } from 'vitest';
import { OWNER, VIEWER, useApi, type CallResult } from './helpers';

const LIMIT = 6;
const ANONYMOUS = 4;
const api = useApi({
  API_RATE_LIMIT: String(LIMIT),
  API_RATE_LIMIT_ANONYMOUS: String(ANONYMOUS),
  API_RATE_WINDOW_MS: '4000',
  // Resolve credentials on every request, so a revoked or new credential counts at once.
  AUTH_CACHE_TTL_MS: '0',
});

/** Distinct client addresses through the trusted loopback proxy (TRUST_PROXY defaults to loopback). */
let nextAddress = 1;
const fromAddress = () => ({ 'x-forwarded-for': `203.0.113.${nextAddress++}` });

const expectLimited = (res: CallResult, scope: RegExp) => {
  expect(res.status).toBe(429);
  const retryAfter = Number(res.headers.get('retry-after'));
  expect(retryAfter).toBeGreaterThanOrEqual(1);
  expect(retryAfter).toBeLessThanOrEqual(4);
  expect(res.body).toEqual({
    error: {
      code: 'rate_limited',
      message: expect.stringMatching(scope),
      details: { limit: expect.any(Number), windowSeconds: 4, retryAfterSeconds: retryAfter },
      requestId: expect.any(String),
    },
  });
  return retryAfter;
};

describe('API rate limit', () => {
  it('an API token gets API_RATE_LIMIT requests per window on any route, then 429 with Retry-After; others are untouched', async () => {
    const paths = ['/api/v1/stats/dashboard', '/api/v1/bots', '/api/v1/groups', '/api/v1/auth/me'];
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++)
      statuses.push((await api.call('GET', paths[i % paths.length]!, { auth: { token: api.tokens.viewer } })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    const limited = await api.call('GET', '/api/v1/bots', { auth: { token: api.tokens.viewer } });
    const retryAfter = expectLimited(limited, /per credential/);
    // Bull Board shares the count: still limited there.
    expect((await api.call('GET', '/admin/queues/api/queues', { auth: { token: api.tokens.viewer } })).status).toBe(
      429,
    );

    // Another token of the same user, and a session, each count on their own.
    expect((await api.call('GET', '/api/v1/bots', { auth: { token: api.tokens.admin } })).status).toBe(200);
    const session = await api.login(OWNER, fromAddress());
    expect(session.res.status).toBe(200);
    expect((await api.call('GET', '/api/v1/bots', { auth: session })).status).toBe(200);

    // The count lives in Redis under the credential's id: no token reaches Redis.
    const keys = await api.redis.redis.keys(`${api.redis.prefix}:ratelimit:*`);
    expect(keys.length).toBeGreaterThan(0);
    const values = await Promise.all(keys.map((k) => api.redis.redis.get(k)));
    for (const text of [...keys, ...values.map(String)]) {
      for (const token of Object.values(api.tokens)) expect(text).not.toContain(token);
    }

    // Once Retry-After has passed, the token may ask again.
    await new Promise((r) => setTimeout(r, retryAfter * 1000 + 100));
    expect((await api.call('GET', '/api/v1/bots', { auth: { token: api.tokens.viewer } })).status).toBe(200);
  });

  it('a session is limited like a token, also on changes', async () => {
    const session = await api.login(VIEWER, fromAddress());
    expect(session.res.status).toBe(200);
    const statuses: number[] = [];
    for (let i = 0; i < LIMIT; i++) statuses.push((await api.call('GET', '/api/v1/auth/me', { auth: session })).status);
    expect(statuses.every((s) => s === 200)).toBe(true);
    expectLimited(await api.call('POST', '/api/v1/auth/logout', { auth: session }), /per credential/);
  });

  it('without credentials each address gets API_RATE_LIMIT_ANONYMOUS requests, then 429; another address is not affected', async () => {
    const address = fromAddress();
    const statuses: number[] = [];
    for (let i = 0; i < ANONYMOUS; i++)
      statuses.push((await api.call('GET', '/api/v1/bots', { headers: address })).status);
    expect(statuses).toEqual(Array(ANONYMOUS).fill(401));
    expectLimited(await api.call('GET', '/api/v1/bots', { headers: address }), /per address/);
    // A forged or unknown token is no credential: it counts against the address too.
    expect(
      (await api.call('GET', '/api/v1/bots', { headers: address, auth: { token: 'nzk_forged_token_value' } })).status,
    ).toBe(429);
    // Logging in from that address is refused until the window ends; another address may.
    expect((await api.call('POST', '/api/v1/auth/login', { body: OWNER, headers: address })).status).toBe(429);
    expect((await api.call('POST', '/api/v1/auth/login', { body: OWNER, headers: fromAddress() })).status).toBe(200);
    // Health, readiness and the dashboard's static files are not limited.
    expect((await api.call('GET', '/health', { headers: address })).status).toBe(200);
    expect((await api.call('GET', '/', { headers: address })).status).toBe(200);
  });
});
