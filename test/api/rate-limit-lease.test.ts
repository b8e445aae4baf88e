// The API rate limit under concurrency: a process takes points from Redis in leases (rate-limit.ts), and the
// requests that arrive while a lease is being fetched wait for it instead of each fetching one, so a busy
// credential's count in Redis follows its requests and it is not refused long before its limit.
import { describe, expect, it } from 'vitest';
import { useApi } from './helpers';

// A limit of 2,000 gives leases of 20 points.
const api = useApi({ API_RATE_LIMIT: '2000', API_RATE_WINDOW_MS: '60000' });

describe('API rate limit leases', () => {
  it('100 concurrent requests of one token cost about 100 points in Redis, not a lease each', async () => {
    const statuses = await Promise.all(
      Array.from(
        { length: 100 },
        async () => (await api.call('GET', '/api/v1/auth/me', { auth: { token: api.tokens.viewer } })).status,
      ),
    );
    expect(statuses.filter((s) => s === 200)).toHaveLength(100);
    const keys = await api.redis.redis.keys(`${api.redis.prefix}:ratelimit:api:*`);
    expect(keys).toHaveLength(1);
    const consumed = Number(await api.redis.redis.get(keys[0]!));
    // Served from leases of 20, the next one fetched when half is used: at most 1.5 leases more than the requests.
    expect(consumed).toBeGreaterThanOrEqual(100);
    expect(consumed).toBeLessThanOrEqual(130);
  });
});
