import type { RequestHandler, Response } from 'express';
import { ipKeyGenerator } from 'express-rate-limit';
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes } from 'rate-limiter-flexible';
import type { AppContext } from '../core/context';
import { errorBody } from './errors';
import type { Principal } from './routing';

/**
 * The general request limit of the admin API (/api/v1 and Bull Board), counted in Redis so every API process
 * shares it: API_RATE_LIMIT requests per API_RATE_WINDOW_MS per credential (a session or an API token, by its id:
 * no secret reaches Redis), and API_RATE_LIMIT_ANONYMOUS per client address for requests without a valid one.
 * Login has its own, much stricter limits on top (auth.ts). Over the limit: 429 with a JSON error and
 * Retry-After (seconds until the window ends).
 *
 * rate-limiter-flexible does the counting (one Lua call per request). A credential over its limit is answered
 * from memory until its window ends (inMemoryBlockOnConsumed), so a flood costs Redis nothing; when Redis is
 * unreachable each process counts in memory instead (insuranceLimiter), so a Redis outage does not make every
 * read fail. The limit is off when API_RATE_LIMIT is 0.
 */
export function apiRateLimit(ctx: AppContext): RequestHandler {
  const { API_RATE_LIMIT, API_RATE_LIMIT_ANONYMOUS, API_RATE_WINDOW_MS } = ctx.config;
  if (API_RATE_LIMIT === 0) return (_req, _res, next) => next();
  const duration = Math.ceil(API_RATE_WINDOW_MS / 1000);
  // An HTTP connection: it does not queue commands while Redis is away (the memory limiter answers instead).
  const redis = ctx.newRedis('http');
  const limiter = (name: string, points: number) =>
    new RateLimiterRedis({
      storeClient: redis,
      keyPrefix: ctx.keys.key('ratelimit', name),
      points,
      duration,
      inMemoryBlockOnConsumed: points,
      rejectIfRedisNotReady: true,
      insuranceLimiter: new RateLimiterMemory({ points, duration }),
    });
  const perCredential = leased(limiter('api', API_RATE_LIMIT));
  const anonymous = leased(limiter('api-anonymous', API_RATE_LIMIT_ANONYMOUS));

  const refuse = (res: Response, auth: Principal | undefined, counter: Leased, rejected: RateLimiterRes) => {
    const retryAfter = Math.max(1, Math.ceil(rejected.msBeforeNext / 1000));
    res.set('retry-after', String(retryAfter));
    res
      .status(429)
      .json(
        errorBody(
          'rate_limited',
          `Too many requests: at most ${counter.limiter.points} every ${duration} s ${auth ? 'per credential' : 'per address without credentials'}; retry in ${retryAfter} s`,
          res.locals.requestId,
          { limit: counter.limiter.points, windowSeconds: duration, retryAfterSeconds: retryAfter },
        ),
      );
  };

  return (req, res, next) => {
    const auth = res.locals.auth as Principal | undefined;
    const [counter, key] = auth
      ? [perCredential, auth.kind === 'token' ? `token:${auth.tokenId}` : `session:${auth.sessionId}`]
      : [anonymous, `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`];
    const waiting = counter.consume(key);
    if (!waiting) return next();
    waiting.then(
      () => next(),
      (rejected: unknown) =>
        rejected instanceof RateLimiterRes ? refuse(res, auth, counter, rejected) : next(rejected),
    );
  };
}

/** The most points one process takes from Redis at a time for one key (see leased). */
const LEASE_MAX = 50;

type Leased = ReturnType<typeof leased>;

/**
 * Takes points from Redis in leases instead of one per request: a process that sees a key often consumes
 * `lease` points in one call and serves that many requests from memory (within the same window), so a busy
 * credential costs a Redis call every `lease` requests rather than every request. The lease is a hundredth of
 * the limit (at most LEASE_MAX, at least 1, so small limits stay exact).
 *
 * One refill per key is in flight at a time, and it starts when half the lease is used, so requests keep drawing
 * from memory while it runs; a request that finds the lease empty waits for the refill in flight. (Before, every
 * request arriving during the round trip fetched a lease of its own: half the requests of a saturating run went
 * to Redis, and a busy credential spent its limit several times faster than its requests.) A credential may get
 * up to 1.5 leases fewer than its limit at the end of a window in each process, never more than the limit: points
 * left from a window are dropped, not carried into the next. A request served from memory passes synchronously
 * (consume returns undefined, no promise).
 */
function leased(limiter: RateLimiterRedis) {
  const lease = Math.max(1, Math.min(LEASE_MAX, Math.floor(limiter.points / 100)));
  const held = new Map<string, { left: number; until: number }>();
  const refilling = new Map<string, Promise<void>>();
  const take = (key: string): boolean => {
    const h = held.get(key);
    if (!h || h.left <= 0 || h.until <= Date.now()) return false;
    h.left--;
    if (h.left < lease / 2 && lease > 1 && !refilling.has(key)) refill(key).catch(() => {});
    return true;
  };
  const refill = (key: string): Promise<void> => {
    let pending = refilling.get(key);
    if (!pending) {
      pending = limiter
        .consume(key, lease)
        .then((res) => {
          const until = Date.now() + res.msBeforeNext;
          const h = held.get(key);
          // The same window (its end moves only by the round trip): add to what is left; a new one: start over.
          if (h && Math.abs(h.until - until) < 1_000) h.left += lease;
          else {
            if (held.size >= 10_000) held.clear();
            held.set(key, { left: lease, until });
          }
        })
        .finally(() => refilling.delete(key));
      refilling.set(key, pending);
    }
    return pending;
  };
  // Waits for refills until one leaves a point for this request (other waiters may have drawn the last one).
  const wait = async (key: string): Promise<void> => {
    do await refill(key);
    while (!take(key));
  };
  return {
    limiter,
    consume(key: string): Promise<void> | undefined {
      return take(key) ? undefined : wait(key);
    },
  };
}
