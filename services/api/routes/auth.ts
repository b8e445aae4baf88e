import { z } from 'zod';
import { audit } from '../audit';
import {
  clearSessionCookies,
  createSession,
  csrfFor,
  SESSION_COOKIE,
  setSessionCookies,
  verifyPassword,
} from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError } from '../errors';
import * as R from '../responses';
import { defineRoute, type AnyRoute } from '../routing';

const loginBody = z.object({
  email: z.string().trim().min(1, 'required').max(254),
  password: z.string().min(1, 'required').max(256),
});

export function authRoutes({ ctx, loginLimiters, auth: credentials }: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'post',
      path: '/auth/login',
      summary: 'Log in with email and password; sets the session cookie and returns the CSRF token',
      tag: 'auth',
      access: 'public',
      response: R.loginResponse,
      errors: { 401: 'Wrong email or password', 429: 'Too many attempts' },
      body: loginBody,
      before: loginLimiters,
      handler: async ({ body, req, res }) => {
        const email = body.email.toLowerCase();
        const user = await ctx.db.adminUser.findFirst({
          where: { email, deletedAt: null },
          select: { id: true, email: true, role: true, passwordHash: true, displayName: true },
        });
        const ok = await verifyPassword(user?.passwordHash, body.password);
        if (!ok || !user) {
          await audit(ctx, req, null, {
            action: 'auth.login_failed',
            resourceType: 'admin_user',
            resourceId: user?.id ?? null,
            newValues: { email },
          });
          // Same status, code and message for an unknown email and a wrong password.
          throw new ApiError(401, 'invalid_credentials', 'Wrong email or password');
        }
        const session = await createSession(
          ctx.db,
          user.id,
          ctx.config.SESSION_TTL_HOURS,
          req.ip,
          req.get('user-agent'),
        );
        await ctx.db.adminUser.update({ where: { id: user.id }, data: { lastLoginAt: new Date() } });
        // At most SESSIONS_PER_USER live sessions: the oldest beyond that end now.
        const beyond = await ctx.db.adminSession.findMany({
          where: { adminUserId: user.id, revokedAt: null, expiresAt: { gt: new Date() } },
          orderBy: { id: 'desc' },
          skip: ctx.config.SESSIONS_PER_USER,
          select: { id: true },
        });
        if (beyond.length) {
          await ctx.db.adminSession.updateMany({
            where: { id: { in: beyond.map((b) => b.id) } },
            data: { revokedAt: new Date() },
          });
          await credentials.invalidate();
        }
        await audit(
          ctx,
          req,
          {
            kind: 'session',
            role: user.role as never,
            userId: user.id,
            rootUserId: user.id,
            email: user.email,
            tokenId: null,
            sessionId: session.id,
            csrfToken: null,
          },
          { action: 'auth.login', resourceType: 'admin_session', resourceId: session.id },
        );
        setSessionCookies(req, res, session.token, session.expiresAt);
        return {
          user: { id: user.id, email: user.email, role: user.role, displayName: user.displayName },
          csrfToken: csrfFor(session.token),
          expiresAt: session.expiresAt,
        };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/logout',
      summary: 'End this session',
      tag: 'auth',
      access: 'authenticated',
      response: null,
      handler: async ({ auth, req, res }) => {
        if (auth.kind !== 'session' || !auth.sessionId)
          throw new ApiError(400, 'not_a_session', 'API tokens are revoked with DELETE /tokens/{id}, not logged out');
        await ctx.db.adminSession.update({ where: { id: auth.sessionId }, data: { revokedAt: new Date() } });
        await credentials.invalidate();
        await audit(ctx, req, auth, {
          action: 'auth.logout',
          resourceType: 'admin_session',
          resourceId: auth.sessionId,
        });
        clearSessionCookies(req, res);
        return undefined;
      },
    }),
    defineRoute({
      method: 'post',
      path: '/auth/logout-all',
      summary: 'End every session of the current user (log out everywhere)',
      tag: 'auth',
      access: 'authenticated',
      response: z.object({ sessionsRevoked: z.number().int() }),
      handler: async ({ auth, req, res }) => {
        if (!auth.userId) throw new ApiError(400, 'not_a_session', 'API tokens are revoked with DELETE /tokens/{id}');
        const { count } = await ctx.db.adminSession.updateMany({
          where: { adminUserId: auth.userId, revokedAt: null },
          data: { revokedAt: new Date() },
        });
        await credentials.invalidate();
        await audit(ctx, req, auth, {
          action: 'auth.logout_all',
          resourceType: 'admin_user',
          resourceId: auth.userId,
          newValues: { sessionsRevoked: count },
        });
        if (req.cookies?.[SESSION_COOKIE]) clearSessionCookies(req, res);
        return { sessionsRevoked: count };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/auth/me',
      summary: 'Who is calling: user or token, role, CSRF token of the session',
      tag: 'auth',
      access: 'authenticated',
      response: R.meResponse,
      handler: async ({ auth }) => {
        const user = auth.userId
          ? await ctx.db.adminUser.findUnique({
              where: { id: auth.userId },
              select: { id: true, email: true, role: true, displayName: true, lastLoginAt: true },
            })
          : null;
        return { kind: auth.kind, role: auth.role, user, tokenId: auth.tokenId, csrfToken: auth.csrfToken };
      },
    }),
    defineRoute({
      method: 'get',
      path: '/auth/sessions',
      summary: "The current user's live sessions",
      tag: 'auth',
      access: 'authenticated',
      response: R.sessionsResponse,
      handler: async ({ auth }) => {
        if (!auth.userId) return { items: [] };
        const items = await ctx.db.adminSession.findMany({
          where: { adminUserId: auth.userId, revokedAt: null, expiresAt: { gt: new Date() } },
          select: { id: true, ip: true, userAgent: true, createdAt: true, lastSeenAt: true, expiresAt: true },
          orderBy: { id: 'desc' },
          take: 100,
        });
        return { items: items.map((s) => ({ ...s, current: s.id === auth.sessionId })) };
      },
    }),
  ];
}
