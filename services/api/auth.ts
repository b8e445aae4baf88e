import { timingSafeEqual } from 'node:crypto';
import argon2 from 'argon2';
import type { Request, RequestHandler, Response } from 'express';
import { rateLimit, ipKeyGenerator, type RateLimitRequestHandler } from 'express-rate-limit';
import type { Redis } from 'ioredis';
import { RedisStore, type RedisReply } from 'rate-limit-redis';
import { StartupError, type AppContext } from '../core/context';
import { passwordProblem } from './password-policy';
import type { PrismaClient } from '../core/db';
import { hashToken, randomToken } from '../core/crypto';
import { ApiError, errorBody } from './errors';

import type { Principal } from './routing';
import { roleRank, type AdminRole } from './schemas';

/** The lower of two roles: a token never exceeds its user's current role. */
export const lowerRole = (a: AdminRole, b: AdminRole): AdminRole => (roleRank[a] <= roleRank[b] ? a : b);

export const SESSION_COOKIE = 'nezuko_session';
export const CSRF_COOKIE = 'nezuko_csrf';
export const CSRF_HEADER = 'x-csrf-token';
export const API_TOKEN_PREFIX = 'nzk_';

/** argon2id with OWASP's recommended minimum (19 MiB, 2 passes). */
const ARGON2 = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (plain: string) => argon2.hash(plain, ARGON2);

let dummyHash: Promise<string> | undefined;
/**
 * Verifies a password against a stored hash, or against a dummy hash when there is no user,
 * so an unknown email costs the same time as a wrong password.
 */
export async function verifyPassword(stored: string | undefined, plain: string): Promise<boolean> {
  dummyHash ??= argon2.hash(randomToken(), ARGON2);
  const hash = stored ?? (await dummyHash);
  try {
    const ok = await argon2.verify(hash, plain);
    return ok && stored !== undefined;
  } catch {
    return false;
  }
}

/** The CSRF token of a session: derived from the session token, so it needs no storage and dies with it. */
export const csrfFor = (sessionToken: string) => hashToken(`csrf:${sessionToken}`);

const sameText = (a: string, b: string) => {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
};

const bearer = (req: Request): string | undefined => {
  const header = req.get('authorization');
  const m = header ? /^Bearer\s+(\S+)$/i.exec(header) : null;
  return m?.[1];
};

interface CacheEntry {
  principal: Principal | null;
  expiresAt: number;
  /** When this entry is looked up again. */
  until: number;
}

/**
 * Resolves the caller into res.locals.auth: an API token (Authorization: Bearer) or a session cookie.
 * Unknown, expired or revoked credentials leave the request anonymous (routes then answer 401).
 * lastSeenAt / lastUsedAt are written at most once a minute per credential.
 */
export interface AuthCache {
  /** Drops every cached credential in every API process (logout, revocation, user changes). */
  invalidate(): Promise<void>;
  clearLocal(): void;
}

/**
 * Resolves the caller into res.locals.auth: an API token (Authorization: Bearer) or a session cookie.
 * Unknown, expired or revoked credentials leave the request anonymous (routes then answer 401).
 * Resolved credentials are kept in memory for AUTH_CACHE_TTL_MS (a database round trip per request costs
 * more than everything else on a cached read); every logout, revocation or user change clears the cache in
 * every API process through Redis pub/sub, and expiry is checked on each request.
 * lastSeenAt / lastUsedAt are written at most once a minute per credential.
 */
export function authenticate(ctx: AppContext, cache: Map<string, CacheEntry>): RequestHandler {
  const touchEvery = 60_000;
  const ttl = ctx.config.AUTH_CACHE_TTL_MS;
  const lastTouch = new Map<string, number>();
  const resolving = new Map<string, Promise<{ principal: Principal | null; expiresAt: number }>>();
  const touch = (key: string, run: () => Promise<unknown>) => {
    const now = Date.now();
    if (now - (lastTouch.get(key) ?? 0) < touchEvery) return;
    lastTouch.set(key, now);
    if (lastTouch.size > 10_000) lastTouch.clear();
    void run().catch(() => {});
  };
  const resolve = async (
    kind: 'token' | 'session',
    secret: string,
  ): Promise<{ principal: Principal | null; expiresAt: number }> => {
    const tokenHash = hashToken(secret);
    if (kind === 'token') {
      const row = await ctx.db.apiToken.findUnique({
        where: { tokenHash },
        select: {
          id: true,
          role: true,
          expiresAt: true,
          revokedAt: true,
          createdBy: { select: { id: true, email: true, role: true, deletedAt: true } },
        },
      });
      // A token answers to the user at its root: none, or a deleted one, and it is worth nothing.
      const user = row?.createdBy;
      if (!row || row.revokedAt || !user || user.deletedAt) return { principal: null, expiresAt: Infinity };
      return {
        principal: {
          kind: 'token',
          role: lowerRole(row.role as AdminRole, user.role as AdminRole),
          userId: null,
          rootUserId: user.id,
          email: user.email,
          tokenId: row.id,
          sessionId: null,
          csrfToken: null,
        },
        expiresAt: row.expiresAt?.getTime() ?? Infinity,
      };
    }
    const row = await ctx.db.adminSession.findUnique({
      where: { tokenHash },
      select: {
        id: true,
        expiresAt: true,
        revokedAt: true,
        adminUser: { select: { id: true, email: true, role: true, deletedAt: true } },
      },
    });
    if (!row || row.revokedAt || row.adminUser.deletedAt) return { principal: null, expiresAt: Infinity };
    return {
      principal: {
        kind: 'session',
        role: row.adminUser.role as AdminRole,
        userId: row.adminUser.id,
        rootUserId: row.adminUser.id,
        email: row.adminUser.email,
        tokenId: null,
        sessionId: row.id,
        csrfToken: csrfFor(secret),
      },
      expiresAt: row.expiresAt.getTime(),
    };
  };
  /** Caches a looked-up credential; one lookup per credential at a time (requests meanwhile wait for it). */
  const lookUp = (kind: 'token' | 'session', secret: string, key: string, now: number) => {
    let pending = resolving.get(key);
    if (!pending) {
      pending = resolve(kind, secret).finally(() => resolving.delete(key));
      resolving.set(key, pending);
    }
    return pending.then((resolved) => {
      const entry = { ...resolved, until: now + ttl };
      if (ttl > 0) {
        if (cache.size > 10_000) cache.clear();
        cache.set(key, entry);
      }
      return entry;
    });
  };
  const admit = (res: Response, key: string, entry: CacheEntry, now: number) => {
    if (!entry.principal || entry.expiresAt <= now) return;
    res.locals.auth = entry.principal;
    const p = entry.principal;
    if (p.kind === 'token')
      touch(key, () => ctx.db.apiToken.update({ where: { id: p.tokenId! }, data: { lastUsedAt: new Date() } }));
    else
      touch(key, () => ctx.db.adminSession.update({ where: { id: p.sessionId! }, data: { lastSeenAt: new Date() } }));
  };
  // A cached credential is admitted synchronously; only a lookup waits.
  return (req, res, next) => {
    const token = bearer(req);
    const cookie = token ? undefined : (req.cookies as Record<string, string> | undefined)?.[SESSION_COOKIE];
    const kind = token ? 'token' : 'session';
    const secret = token ?? cookie;
    if (!secret || secret.length > 200 || (kind === 'token' && !secret.startsWith(API_TOKEN_PREFIX))) return next();
    const key = `${kind}:${secret}`;
    const now = Date.now();
    const cached = ttl > 0 ? cache.get(key) : undefined;
    if (cached && cached.until > now) {
      admit(res, key, cached, now);
      return next();
    }
    lookUp(kind, secret, key, now).then((entry) => {
      admit(res, key, entry, now);
      next();
    }, next);
  };
}

/** The credential cache shared by the /api/v1 and Bull Board authenticators, cleared across processes. */
export function authCache(ctx: AppContext) {
  const entries = new Map<string, CacheEntry>();
  const channel = ctx.keys.key('api', 'auth-changed');
  let subscribed: Promise<void> | undefined;
  const api: AuthCache & { entries: typeof entries; subscribe(): Promise<void> } = {
    entries,
    clearLocal: () => entries.clear(),
    async invalidate() {
      entries.clear();
      await ctx.redis.publish(channel, '1').catch(() => {});
    },
    subscribe() {
      subscribed ??= (async () => {
        const sub = ctx.newRedis('default');
        sub.on('message', () => entries.clear());
        await sub.subscribe(channel);
      })();
      return subscribed;
    },
  };
  return api;
}

/** Origins a browser may send changes from: the API's own origin plus CORS_ORIGINS. */
export function originAllowed(req: Request, allowList: string[]): boolean {
  const origin = req.get('origin');
  if (!origin) return true;
  if (allowList.includes(origin)) return true;
  return origin === `${req.protocol}://${req.get('host')}`;
}

/**
 * CSRF for cookie-authenticated changes (tokens are not sent by browsers on their own, so bearer calls
 * need none). Two layers: the signed double-submit token in X-CSRF-Token (it equals the CSRF cookie and
 * the login answer, and is bound to the session), and an Origin allow-list check when a browser sends Origin.
 */
export function csrfCheck(allowList: string[]) {
  return (req: Request, auth: Principal) => {
    if (auth.kind !== 'session') return;
    if (!originAllowed(req, allowList)) throw new ApiError(403, 'csrf_failed', 'Cross-origin request refused');
    const sent = req.get(CSRF_HEADER);
    if (!sent || !auth.csrfToken || !sameText(sent, auth.csrfToken)) {
      throw new ApiError(
        403,
        'csrf_failed',
        `Missing or wrong ${CSRF_HEADER} header (send the csrfToken from login or the ${CSRF_COOKIE} cookie)`,
      );
    }
  };
}

export function setSessionCookies(req: Request, res: Response, token: string, expiresAt: Date) {
  const common = { secure: req.secure, sameSite: 'strict' as const, path: '/', expires: expiresAt };
  res.cookie(SESSION_COOKIE, token, { ...common, httpOnly: true });
  res.cookie(CSRF_COOKIE, csrfFor(token), { ...common, httpOnly: false });
}

export function clearSessionCookies(req: Request, res: Response) {
  const common = { secure: req.secure, sameSite: 'strict' as const, path: '/' };
  res.clearCookie(SESSION_COOKIE, { ...common, httpOnly: true });
  res.clearCookie(CSRF_COOKIE, common);
}

export async function createSession(
  db: PrismaClient,
  userId: number,
  ttlHours: number,
  ip: string | undefined,
  userAgent: string | undefined,
) {
  const token = randomToken(32);
  const expiresAt = new Date(Date.now() + ttlHours * 3_600_000);
  const row = await db.adminSession.create({
    data: {
      adminUserId: userId,
      tokenHash: hashToken(token),
      ip: ip ?? null,
      userAgent: userAgent?.slice(0, 512) ?? null,
      expiresAt,
      lastSeenAt: new Date(),
    },
  });
  return { token, expiresAt, id: row.id };
}

/**
 * Login limits in Redis, shared by every API process: attempts per address, and failed attempts per account and
 * address together (successful logins are not counted). A brute force from one address against one account gets
 * LOGIN_RATE_LIMIT_PER_ACCOUNT guesses per LOGIN_RATE_WINDOW_MS (by default 5 per 15 min: 20 an hour). The store is created on first use, once the connection is up
 * (HTTP connections do not queue commands while connecting).
 */
export function loginLimiters(ctx: AppContext): RequestHandler[] {
  let redis: Redis | undefined;
  const connection = async () => {
    redis ??= ctx.newRedis('http');
    if (redis.status !== 'ready') {
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new ApiError(503, 'unavailable', 'Rate limiting store unavailable')),
          2_000,
        );
        redis!.once('ready', () => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    return redis;
  };
  const limited =
    (message: string): RequestHandler =>
    (_req, res) => {
      res.status(429).json(errorBody('rate_limited', message, res.locals.requestId));
    };
  const make = (
    name: string,
    options: { limit: number; key: (req: Request) => string; skipSuccessfulRequests: boolean },
  ) => {
    let handler: RateLimitRequestHandler | undefined;
    const build = (r: Redis) =>
      rateLimit({
        windowMs: ctx.config.LOGIN_RATE_WINDOW_MS,
        limit: options.limit,
        standardHeaders: 'draft-8',
        legacyHeaders: false,
        skipSuccessfulRequests: options.skipSuccessfulRequests,
        keyGenerator: options.key,
        handler: limited('Too many login attempts; try again later'),
        store: new RedisStore({
          prefix: ctx.keys.key('ratelimit', name, ''),
          sendCommand: (command: string, ...args: string[]) => r.call(command, ...args) as Promise<RedisReply>,
        }),
        validate: { keyGeneratorIpFallback: false },
      });
    const mw: RequestHandler = async (req, res, next) => {
      try {
        handler ??= build(await connection());
      } catch (err) {
        return next(err);
      }
      return handler(req, res, next);
    };
    return mw;
  };
  const account = (req: Request) => {
    const raw = (req.body as { email?: unknown } | undefined)?.email;
    return typeof raw === 'string' ? hashToken(raw.trim().toLowerCase()).slice(0, 32) : 'none';
  };
  const address = (req: Request) => ipKeyGenerator(req.ip ?? 'unknown');
  return [
    make('login-ip', { limit: ctx.config.LOGIN_RATE_LIMIT_PER_IP, key: address, skipSuccessfulRequests: false }),
    // Failed attempts count per account *and* address: wrong passwords sent from anywhere else cannot lock the
    // owner out of their own address, while one address gets LOGIN_RATE_LIMIT_PER_ACCOUNT guesses per window.
    make('login-account', {
      limit: ctx.config.LOGIN_RATE_LIMIT_PER_ACCOUNT,
      key: (req) => `${account(req)}:${address(req)}`,
      skipSuccessfulRequests: true,
    }),
  ];
}

/** Creates the first owner from ADMIN_EMAIL / ADMIN_PASSWORD when no admin user exists yet. */
export async function ensureFirstOwner(ctx: AppContext): Promise<void> {
  const { ADMIN_EMAIL, ADMIN_PASSWORD } = ctx.config;
  if (!ADMIN_EMAIL || !ADMIN_PASSWORD) return;
  const existing = await ctx.db.adminUser.count({ where: { deletedAt: null } });
  if (existing > 0) return;
  const email = ADMIN_EMAIL.trim().toLowerCase();
  const problem = passwordProblem(ADMIN_PASSWORD, [email]);
  if (problem) throw new StartupError(`ADMIN_PASSWORD is refused by the password policy: ${problem}`);
  try {
    const user = await ctx.db.adminUser.create({
      data: { email, passwordHash: await hashPassword(ADMIN_PASSWORD), role: 'owner' },
    });
    await ctx.db.adminAuditLog.create({
      data: {
        action: 'user.create',
        resourceType: 'admin_user',
        resourceId: String(user.id),
        newValues: { email, role: 'owner', source: 'ADMIN_EMAIL' },
      },
    });
    ctx.log.info('first owner created from ADMIN_EMAIL', { userId: user.id });
  } catch (err) {
    // Two API processes starting together: the partial unique index lets only one create it.
    if ((err as { code?: string }).code !== 'P2002') throw err;
  }
}
