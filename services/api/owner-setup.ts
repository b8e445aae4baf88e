import { createHash, randomInt, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';
import { z } from 'zod';
import type { AppContext } from '../core/context';
import { consoleFormatFor } from '../core/logger';
import { audit } from './audit';
import { createSession, csrfFor, hashPassword, setSessionCookies } from './auth';
import type { ApiDeps } from './deps';
import { ApiError, errorBody } from './errors';
import { passwordProblem } from './password-policy';
import * as R from './responses';
import { defineRoute, type AnyRoute } from './routing';
import { email, passwordLength } from './schemas';

/**
 * One-time owner set-up, as Jenkins and Grafana do it: while no owner exists, each API process prints a code on
 * its console at start; the dashboard's set-up page takes that code and creates the owner. The code is random
 * (60 bits), works once and for SETUP_CODE_TTL_MINUTES, and is never logged: it goes to the console only, and
 * Redis keeps only its SHA-256 (so every API process accepts a code any of them printed).
 */

/** Crockford's base 32: no I, L, O or U to misread. 12 characters = 60 bits. */
const ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
const CODE_LENGTH = 12;
/** Set-up attempts per address per LOGIN_RATE_WINDOW_MS: plenty for a person, nothing against 2^60 codes. */
export const SETUP_ATTEMPTS_PER_ADDRESS = 10;

const digest = (code: string) => createHash('sha256').update(normalise(code)).digest();
/** What a person types: any case, spaces and dashes as they like. */
const normalise = (code: string) => code.toUpperCase().replace(/[\s-]/g, '');
const codesKey = (ctx: AppContext) => ctx.keys.key('owner-setup', 'codes');
const liveOwners = (ctx: AppContext) => ctx.db.adminUser.count({ where: { role: 'owner', deletedAt: null } });

export interface SetupCode {
  code: string;
  expiresAt: Date;
}

/**
 * With no owner, a new code (valid `ttlMs`, by default SETUP_CODE_TTL_MINUTES) whose hash is stored in Redis;
 * null when an owner exists. Expired codes of earlier starts are dropped.
 */
export async function issueSetupCode(
  ctx: AppContext,
  ttlMs = ctx.config.SETUP_CODE_TTL_MINUTES * 60_000,
): Promise<SetupCode | null> {
  if ((await liveOwners(ctx)) > 0) return null;
  const raw = Array.from({ length: CODE_LENGTH }, () => ALPHABET[randomInt(ALPHABET.length)]).join('');
  const code = raw.match(/.{4}/g)!.join('-');
  const expiresAt = new Date(Date.now() + ttlMs);
  const key = codesKey(ctx);
  const stored = await ctx.redis.hgetall(key);
  const expired = Object.entries(stored).filter(([, until]) => Number(until) <= Date.now());
  const multi = ctx.redis.multi();
  if (expired.length) multi.hdel(key, ...expired.map(([field]) => field));
  multi.hset(key, digest(code).toString('hex'), String(expiresAt.getTime()));
  const latest = Math.max(expiresAt.getTime(), ...Object.values(stored).map(Number));
  multi.pexpireat(key, latest);
  await multi.exec();
  return { code, expiresAt };
}

/**
 * The code on the console only: written straight to stdout, never through the logger, so it reaches no log file
 * (and no log shipper reading those). A container's console is its log stream: `docker compose logs api` shows it.
 */
export function printSetupCode(ctx: AppContext, setup: SetupCode, port: number): void {
  const host = ['0.0.0.0', '::', '[::]'].includes(ctx.config.API_HOST) ? '127.0.0.1' : ctx.config.API_HOST;
  const dashboardUrl = `http://${host}:${port}/`;
  const until = setup.expiresAt.toISOString().slice(11, 16);
  const text = `Owner set-up code: ${setup.code} — open ${dashboardUrl} and enter it to create the owner account (works once, until ${until} UTC)`;
  if (consoleFormatFor(ctx.config.LOG_FORMAT) === 'pretty') process.stdout.write(`\n  ${text}\n\n`);
  else
    process.stdout.write(
      `${JSON.stringify({ level: 'warn', message: 'owner set-up code', setupCode: setup.code, url: dashboardUrl, expiresAt: setup.expiresAt.toISOString(), timestamp: new Date().toISOString() })}\n`,
    );
}

type Check = { result: 'ok'; giveBack: () => Promise<unknown> } | { result: 'expired' } | { result: 'wrong' };

/**
 * Takes a code: compares its hash with every stored one in constant time, then claims it with HDEL, which only
 * one request can win, so a code works once even when two requests race.
 */
async function takeCode(ctx: AppContext, code: string): Promise<Check> {
  const key = codesKey(ctx);
  const given = digest(code);
  let match: { field: string; until: number } | undefined;
  for (const [field, until] of Object.entries(await ctx.redis.hgetall(key))) {
    const stored = Buffer.from(field, 'hex');
    if (stored.length === given.length && timingSafeEqual(stored, given)) match = { field, until: Number(until) };
  }
  if (!match) return { result: 'wrong' };
  const claimed = (await ctx.redis.hdel(key, match.field)) === 1;
  if (!claimed) return { result: 'wrong' };
  if (match.until <= Date.now()) return { result: 'expired' };
  // A failure before the owner exists (the database away, say) must not cost the operator their code.
  const { field, until } = match;
  return { result: 'ok', giveBack: () => ctx.redis.hset(key, field, String(until)) };
}

/** Attempts per address in Redis (shared by every API process); the window starts at the first attempt. */
function setupLimiter(ctx: AppContext): RequestHandler {
  return (req, res, next) => {
    const key = ctx.keys.key('owner-setup', 'attempts', req.ip ?? 'unknown');
    ctx.redis
      .multi()
      .set(key, 0, 'PX', ctx.config.LOGIN_RATE_WINDOW_MS, 'NX')
      .incr(key)
      .exec()
      .then((results) => {
        const attempts = Number(results?.[1]?.[1] ?? 0);
        if (attempts > SETUP_ATTEMPTS_PER_ADDRESS)
          res
            .status(429)
            .json(errorBody('rate_limited', 'Too many set-up attempts; try again later', res.locals.requestId));
        else next();
      }, next);
  };
}

const setupBody = z
  .object({
    code: z.string().trim().min(1, 'required').max(64),
    email,
    password: passwordLength,
    displayName: z.string().trim().min(1).max(100).optional(),
  })
  .superRefine((b, issue) => {
    if (!passwordLength.safeParse(b.password).success) return;
    const problem = passwordProblem(b.password, [b.email, b.displayName ?? '']);
    if (problem) issue.addIssue({ code: 'custom', path: ['password'], message: problem });
  });

export function setupRoutes({ ctx, auth: credentials }: ApiDeps): AnyRoute[] {
  const done = () => new ApiError(409, 'setup_done', 'An owner exists already: log in instead');
  return [
    defineRoute({
      method: 'get',
      path: '/setup',
      summary: 'Whether the one-time owner set-up is open (no owner exists yet)',
      tag: 'setup',
      access: 'public',
      response: z.object({ needed: z.boolean() }),
      handler: async () => ({ needed: (await liveOwners(ctx)) === 0 }),
    }),
    defineRoute({
      method: 'post',
      path: '/setup',
      summary:
        'Create the first owner with the one-time code the API printed on its console at start (only while no owner exists); logs them in',
      tag: 'setup',
      access: 'public',
      status: 201,
      body: setupBody,
      before: [setupLimiter(ctx)],
      response: R.loginResponse,
      errors: {
        401: 'Wrong or already used set-up code',
        409: 'An owner exists already',
        410: 'The set-up code expired: restart the API for a new one',
        429: 'Too many attempts',
      },
      handler: async ({ body, req, res }) => {
        if ((await liveOwners(ctx)) > 0) throw done();
        const check = await takeCode(ctx, body.code);
        if (check.result === 'wrong')
          throw new ApiError(401, 'invalid_setup_code', 'Wrong or already used set-up code');
        if (check.result === 'expired')
          throw new ApiError(410, 'setup_code_expired', 'This set-up code expired; restart the API for a new one');
        const { giveBack } = check;
        const passwordHash = await hashPassword(body.password);
        // One owner from set-up, even if two codes (two API processes) are used at the same moment.
        const created = ctx.db.$transaction(async (tx) => {
          await tx.$executeRaw`SELECT pg_advisory_xact_lock(hashtext('nezuko owner set-up'))`;
          if ((await tx.adminUser.count({ where: { role: 'owner', deletedAt: null } })) > 0) return null;
          return tx.adminUser.create({
            data: { email: body.email, passwordHash, role: 'owner', displayName: body.displayName ?? null },
            select: { id: true, email: true, role: true, displayName: true },
          });
        });
        const user = await created.catch(async (err: unknown) => {
          await giveBack().catch(() => {});
          throw err;
        });
        if (!user) throw done();
        // Every other code is void now that an owner exists.
        await ctx.redis.del(codesKey(ctx));
        await credentials.invalidate();
        const session = await createSession(
          ctx.db,
          user.id,
          ctx.config.SESSION_TTL_HOURS,
          req.ip,
          req.get('user-agent'),
        );
        await audit(
          ctx,
          req,
          {
            kind: 'session',
            role: 'owner',
            userId: user.id,
            rootUserId: user.id,
            email: user.email,
            tokenId: null,
            sessionId: session.id,
            csrfToken: null,
          },
          {
            action: 'user.create',
            resourceType: 'admin_user',
            resourceId: user.id,
            newValues: { email: user.email, role: 'owner', source: 'setup code' },
          },
        );
        setSessionCookies(req, res, session.token, session.expiresAt);
        return { user, csrfToken: csrfFor(session.token), expiresAt: session.expiresAt };
      },
    }),
  ];
}
