import type { RequestHandler } from 'express';
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
  const perCredential = limiter('api', API_RATE_LIMIT);
  const anonymous = limiter('api-anonymous', API_RATE_LIMIT_ANONYMOUS);

  return async (req, res, next) => {
    const auth = res.locals.auth as Principal | undefined;
    const [counter, key] = auth
      ? [perCredential, auth.kind === 'token' ? `token:${auth.tokenId}` : `session:${auth.sessionId}`]
      : [anonymous, `ip:${ipKeyGenerator(req.ip ?? 'unknown')}`];
    try {
      await counter.consume(key);
    } catch (rejected) {
      if (!(rejected instanceof RateLimiterRes)) return next(rejected);
      const retryAfter = Math.max(1, Math.ceil(rejected.msBeforeNext / 1000));
      res.set('retry-after', String(retryAfter));
      res
        .status(429)
        .json(
          errorBody(
            'rate_limited',
            `Too many requests: at most ${counter.points} every ${duration} s ${auth ? 'per credential' : 'per address without credentials'}; retry in ${retryAfter} s`,
            res.locals.requestId,
            { limit: counter.points, windowSeconds: duration, retryAfterSeconds: retryAfter },
          ),
        );
      return;
    }
    next();
  };
}
