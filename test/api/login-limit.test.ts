import { describe, expect, it } from 'vitest';
import { ADMIN, OWNER, VIEWER, useApi } from './helpers';

// Account limit at its default (5 failed attempts per account and address per 15 min); a small address budget.
const api = useApi({ LOGIN_RATE_LIMIT_PER_IP: '12' });
const from = (address: string, extra: Record<string, string> = {}) => ({ 'x-forwarded-for': address, ...extra });
const attempt = (user: { email: string; password: string }, address: string) =>
  api.call('POST', '/api/v1/auth/login', { body: user, headers: from(address) });

describe('login rate limits (Redis)', () => {
  it('wrong passwords from one address lock that address out of the account, not the owner at another address', async () => {
    const attacker = '203.0.113.5';
    const statuses: number[] = [];
    for (let i = 0; i < 6; i++)
      statuses.push((await attempt({ email: OWNER.email, password: `wrong-${i}-password` }, attacker)).status);
    expect(statuses).toEqual([401, 401, 401, 401, 401, 429]);
    const locked = await attempt(OWNER, attacker);
    expect(locked.status).toBe(429);
    expect(locked.body.error.code).toBe('rate_limited');
    // Case and spaces do not make a new account key.
    expect((await attempt({ ...OWNER, email: ` ${OWNER.email.toUpperCase()} ` }, attacker)).status).toBe(429);
    // The owner, from their own address, logs in.
    expect((await attempt(OWNER, '198.51.100.7')).status).toBe(200);
    // Another account from the attacker's address is not locked, and successful logins do not count against it.
    expect((await attempt(ADMIN, attacker)).status).toBe(200);
    expect((await attempt(ADMIN, attacker)).status).toBe(200);
  });

  it('one address gets LOGIN_RATE_LIMIT_PER_IP attempts per window, whatever accounts it tries', async () => {
    const address = '203.0.113.99';
    const statuses: number[] = [];
    for (let i = 0; i < 13; i++)
      statuses.push((await attempt({ email: `x${i}@example.com`, password: 'irrelevant-pw' }, address)).status);
    expect(statuses.slice(0, 12).every((s) => s === 401)).toBe(true);
    expect(statuses[12]).toBe(429);
    expect((await attempt(VIEWER, address)).status).toBe(429); // even the right password, from this address
    expect((await attempt(VIEWER, '198.51.100.8')).status).toBe(200);
    const keys = await api.redis.redis.keys(`${api.redis.prefix}:ratelimit:*`);
    expect(keys.length).toBeGreaterThanOrEqual(2);
  });

  it('what a brute force gets: guesses per hour against one account from one address', async () => {
    const address = '203.0.113.150';
    let guesses = 0;
    while ((await attempt({ email: VIEWER.email, password: `guess-${guesses}-xyz` }, address)).status === 401)
      guesses++;
    const windowMs = api.ctx.config.LOGIN_RATE_WINDOW_MS;
    const perHour = guesses * (3_600_000 / windowMs);
    console.log(
      `[security:login] a brute force gets ${guesses} guesses per ${windowMs / 60_000} min = ${perHour} per hour per account per address (LOGIN_RATE_LIMIT_PER_ACCOUNT=${api.ctx.config.LOGIN_RATE_LIMIT_PER_ACCOUNT}); the address is limited to ${api.ctx.config.LOGIN_RATE_LIMIT_PER_IP * (3_600_000 / windowMs)} attempts per hour over all accounts`,
    );
    expect(guesses).toBe(5);
    expect(perHour).toBe(20);
  });

  it("a trusted proxy's X-Forwarded-Proto: https makes the session cookies Secure", async () => {
    const plain = await attempt(ADMIN, '198.51.100.20');
    expect(plain.headers.getSetCookie().every((c) => !/;\s*Secure/i.test(c))).toBe(true);
    const viaHttps = await api.call('POST', '/api/v1/auth/login', {
      body: ADMIN,
      headers: from('198.51.100.20', { 'x-forwarded-proto': 'https' }),
    });
    expect(viaHttps.status).toBe(200);
    const cookies = viaHttps.headers.getSetCookie();
    expect(cookies.length).toBe(2);
    for (const c of cookies) expect(c).toMatch(/;\s*Secure/i);
  });
});
