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
const LEASE_MAX = 20;

type Leased = ReturnType<typeof leased>;

/**
 * Takes points from Redis in small leases instead of one per request: a process that sees a key often consumes
 * `lease` points in one call and serves that many requests from memory (within the same window), so a busy
 * credential costs a Redis call every `lease` requests rather than every request. The lease is a hundredth of
 * the limit (at most LEASE_MAX, at least 1, so small limits stay exact): a credential may get up to lease − 1
 * requests fewer than its limit at the end of a window in each process, never more than the limit.
 *
 * One refill per key is in flight at a time, and the requests that arrive meanwhile wait for it: without that,
 * every request arriving during the round trip went to Redis itself (measured: half the requests of a
 * saturating run). A request served from the lease is answered synchronously (undefined, no promise).
 */
function leased(limiter: RateLimiterRedis) {
  const lease = Math.max(1, Math.min(LEASE_MAX, Math.floor(limiter.points / 100)));
  const local = new Map<string, { left: number; until: number }>();
  const refilling = new Map<string, Promise<void>>();
  const take = (key: string): boolean => {
    const held = local.get(key);
    if (!held || held.left <= 0 || held.until <= Date.now()) return false;
    held.left--;
    return true;
  };
  const refill = (key: string): Promise<void> => {
    let pending = refilling.get(key);
    if (!pending) {
      pending = limiter
        .consume(key, lease)
        .then((res) => {
          if (local.size >= 10_000) local.clear();
          local.set(key, { left: lease, until: Date.now() + res.msBeforeNext });
        })
        .finally(() => refilling.delete(key));
      refilling.set(key, pending);
    }
    return pending;
  };
  // Waits for refills until one leaves a point for this request (another waiter may have drawn the last one).
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
