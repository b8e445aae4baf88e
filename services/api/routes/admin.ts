import { z } from 'zod';
import { hashToken, randomToken } from '../../core/crypto';
import { passwordProblem } from '../password-policy';
import { Prisma } from '../../core/db';
import { audit, changed } from '../audit';
import { API_TOKEN_PREFIX, hashPassword } from '../auth';
import type { ApiDeps } from '../deps';
import { ApiError, conflict, notFound } from '../errors';
import { windowPage } from '../pagination';
import * as R from '../responses';
import { defineRoute, type AnyRoute } from '../routing';
import { email, idParams, pageQuery, password, passwordLength, roleRank, ROLES, type AdminRole } from '../schemas';

/** Roles above `role`: what a token of a user demoted to `role` must lose. */
const rolesAbove = (role: AdminRole) => ROLES.filter((r) => roleRank[r] > roleRank[role]);

const userSelect = {
  id: true,
  email: true,
  role: true,
  displayName: true,
  lastLoginAt: true,
  createdAt: true,
  updatedAt: true,
} as const;
// The same fields as userSelect / tokenSelect, for the list pages (one query with a window count).
const userColumns = Prisma.sql`u.id, u.email, u.role, u.display_name AS "displayName", u.last_login_at AS "lastLoginAt",
  u.created_at AS "createdAt", u.updated_at AS "updatedAt"`;
const tokenColumns = Prisma.sql`t.id, t.name, t.token_prefix AS "tokenPrefix", t.role, t.created_by_id AS "createdById", t.created_by_token_id AS "createdByTokenId",
  t.last_used_at AS "lastUsedAt", t.expires_at AS "expiresAt", t.revoked_at AS "revokedAt", t.created_at AS "createdAt"`;
const tokenSelect = {
  id: true,
  name: true,
  tokenPrefix: true,
  role: true,
  createdById: true,
  createdByTokenId: true,
  lastUsedAt: true,
  expiresAt: true,
  revokedAt: true,
  createdAt: true,
} as const;

/** Admin users and API tokens: owner only. */
export function adminRoutes({ ctx, auth: credentials }: ApiDeps): AnyRoute[] {
  const liveOwners = () => ctx.db.adminUser.count({ where: { role: 'owner', deletedAt: null } });
  return [
    defineRoute({
      method: 'get',
      path: '/users',
      summary: 'List admin users',
      tag: 'users',
      access: 'owner',
      response: R.pageOfItems(R.adminUser),
      query: z.object({ ...pageQuery, role: z.enum(ROLES).optional() }),
      handler: async ({ query }) => {
        const where = [Prisma.sql`u.deleted_at IS NULL`];
        if (query.role) where.push(Prisma.sql`u.role = ${query.role}`);
        return windowPage(
          ctx.db,
          { select: userColumns, from: Prisma.sql`admin_users u`, where, orderBy: Prisma.sql`u.id ASC` },
          query.page,
          query.per_page,
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/users',
      summary: 'Create an admin user',
      tag: 'users',
      access: 'owner',
      response: R.adminUser,
      errors: { 409: 'An admin user with this email exists' },
      status: 201,
      body: z
        .object({
          email,
          password: passwordLength,
          role: z.enum(ROLES).default('viewer'),
          displayName: z.string().trim().min(1).max(100).optional(),
        })
        .superRefine((b, ctx) => {
          // The account's own email and name are the first guesses an attacker tries. (Length is reported above.)
          if (!passwordLength.safeParse(b.password).success) return;
          const problem = passwordProblem(b.password, [b.email, b.displayName ?? '']);
          if (problem) ctx.addIssue({ code: 'custom', path: ['password'], message: problem });
        }),
      handler: async ({ body, auth, req }) => {
        const exists = await ctx.db.adminUser.findFirst({
          where: { email: body.email, deletedAt: null },
          select: { id: true },
        });
        if (exists) throw conflict('An admin user with this email exists');
        const user = await ctx.db.adminUser.create({
          data: {
            email: body.email,
            role: body.role,
            displayName: body.displayName ?? null,
            passwordHash: await hashPassword(body.password),
          },
          select: userSelect,
        });
        await audit(ctx, req, auth, {
          action: 'user.create',
          resourceType: 'admin_user',
          resourceId: user.id,
          newValues: { email: user.email, role: user.role, displayName: user.displayName },
        });
        return user;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/users/:id',
      summary: 'Get an admin user',
      tag: 'users',
      access: 'owner',
      response: R.adminUser,
      params: idParams,
      handler: async ({ params }) => {
        const user = await ctx.db.adminUser.findFirst({
          where: { id: params.id, deletedAt: null },
          select: userSelect,
        });
        if (!user) throw notFound('Admin user');
        return user;
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/users/:id',
      summary:
        "Change an admin user's role, name or password (a new password ends their sessions and revokes their API tokens; a demotion downgrades their tokens)",
      tag: 'users',
      access: 'owner',
      response: R.adminUser,
      errors: { 409: 'The last owner cannot be demoted' },
      params: idParams,
      body: z
        .object({
          role: z.enum(ROLES).optional(),
          displayName: z.string().trim().min(1).max(100).nullable().optional(),
          password: password.optional(),
        })
        .strict(),
      handler: async ({ params, body, auth, req }) => {
        const user = await ctx.db.adminUser.findFirst({
          where: { id: params.id, deletedAt: null },
          select: userSelect,
        });
        if (!user) throw notFound('Admin user');
        if (body.role && body.role !== 'owner' && user.role === 'owner' && (await liveOwners()) <= 1)
          throw conflict('The last owner cannot be demoted');
        const { oldValues, newValues } = changed(user, { role: body.role, displayName: body.displayName });
        const demoted = body.role !== undefined && roleRank[body.role] < roleRank[user.role as AdminRole];
        const roleChanged = body.role !== undefined && body.role !== user.role;
        const passwordHash = body.password ? await hashPassword(body.password) : undefined;
        // One transaction: the new role or password, and what it takes from the user's credentials.
        const { updated, sessionsRevoked, tokensDowngraded, tokensRevoked } = await ctx.db.$transaction(async (tx) => {
          const now = new Date();
          const updated = await tx.adminUser.update({
            where: { id: user.id },
            data: { role: body.role, displayName: body.displayName, passwordHash },
            select: userSelect,
          });
          let sessionsRevoked = 0;
          let tokensDowngraded = 0;
          let tokensRevoked = 0;
          // A new password ends every session of theirs; a new role every one but the session making the change.
          if (passwordHash || roleChanged) {
            const spare = passwordHash ? {} : { NOT: { id: auth.sessionId ?? -1 } };
            sessionsRevoked = (
              await tx.adminSession.updateMany({
                where: { adminUserId: user.id, revokedAt: null, ...spare },
                data: { revokedAt: now },
              })
            ).count;
          }
          // A password reset says the account may have been in someone else's hands: the tokens rooted at it go.
          if (passwordHash)
            tokensRevoked = (
              await tx.apiToken.updateMany({
                where: { createdById: user.id, revokedAt: null },
                data: { revokedAt: now },
              })
            ).count;
          // Demoted: every token rooted at them comes down to the new role.
          else if (demoted)
            tokensDowngraded = (
              await tx.apiToken.updateMany({
                where: { createdById: user.id, revokedAt: null, role: { in: rolesAbove(body.role!) } },
                data: { role: body.role },
              })
            ).count;
          return { updated, sessionsRevoked, tokensDowngraded, tokensRevoked };
        });
        await credentials.invalidate();
        await audit(ctx, req, auth, {
          action: 'user.update',
          resourceType: 'admin_user',
          resourceId: user.id,
          oldValues,
          newValues: {
            ...newValues,
            ...(body.password ? { passwordChanged: true } : {}),
            sessionsRevoked,
            tokensDowngraded,
            tokensRevoked,
          },
        });
        return updated;
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/users/:id',
      summary: 'Delete an admin user (soft); ends their sessions and revokes their API tokens',
      tag: 'users',
      access: 'owner',
      response: null,
      errors: { 409: 'Yourself, or the last owner' },
      params: idParams,
      handler: async ({ params, auth, req }) => {
        const user = await ctx.db.adminUser.findFirst({
          where: { id: params.id, deletedAt: null },
          select: userSelect,
        });
        if (!user) throw notFound('Admin user');
        if (user.id === auth.userId) throw conflict('You cannot delete yourself');
        if (user.role === 'owner' && (await liveOwners()) <= 1) throw conflict('The last owner cannot be deleted');
        const now = new Date();
        await ctx.db.$transaction([
          ctx.db.adminUser.update({ where: { id: user.id }, data: { deletedAt: now } }),
          ctx.db.adminSession.updateMany({
            where: { adminUserId: user.id, revokedAt: null },
            data: { revokedAt: now },
          }),
          ctx.db.apiToken.updateMany({ where: { createdById: user.id, revokedAt: null }, data: { revokedAt: now } }),
        ]);
        await credentials.invalidate();
        await audit(ctx, req, auth, {
          action: 'user.delete',
          resourceType: 'admin_user',
          resourceId: user.id,
          oldValues: { email: user.email, role: user.role },
        });
        return undefined;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/tokens',
      summary: 'List API tokens (never their secret)',
      tag: 'tokens',
      access: 'owner',
      response: R.pageOfItems(R.apiToken),
      query: z.object({ ...pageQuery, include_revoked: z.enum(['true', 'false']).optional() }),
      handler: async ({ query }) => {
        const where = query.include_revoked === 'true' ? [] : [Prisma.sql`t.revoked_at IS NULL`];
        return windowPage(
          ctx.db,
          { select: tokenColumns, from: Prisma.sql`api_tokens t`, where, orderBy: Prisma.sql`t.id DESC` },
          query.page,
          query.per_page,
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/tokens',
      summary: 'Create an API token scoped to a role; the token is shown only in this answer',
      tag: 'tokens',
      access: 'owner',
      response: R.createdApiToken,
      status: 201,
      body: z.object({
        name: z.string().trim().min(1).max(100),
        role: z.enum(ROLES).default('viewer'),
        expiresInDays: z.number().int().min(1).max(3650).optional(),
      }),
      handler: async ({ body, auth, req }) => {
        if (roleRank[body.role] > roleRank[auth.role])
          throw new ApiError(403, 'forbidden', `A token cannot have more rights than its maker (${auth.role})`);
        if (!auth.rootUserId) throw new ApiError(403, 'forbidden', 'This credential answers to no user');
        const token = `${API_TOKEN_PREFIX}${randomToken(32)}`;
        const row = await ctx.db.apiToken.create({
          data: {
            name: body.name,
            role: body.role,
            tokenHash: hashToken(token),
            tokenPrefix: token.slice(0, API_TOKEN_PREFIX.length + 6),
            // The user at the root, also when a token makes the token: demoting or deleting them reaches it.
            createdById: auth.rootUserId,
            createdByTokenId: auth.tokenId,
            expiresAt: body.expiresInDays ? new Date(Date.now() + body.expiresInDays * 86_400_000) : null,
          },
          select: tokenSelect,
        });
        await audit(ctx, req, auth, {
          action: 'token.create',
          resourceType: 'api_token',
          resourceId: row.id,
          newValues: { name: row.name, role: row.role, tokenPrefix: row.tokenPrefix, expiresAt: row.expiresAt },
        });
        return { ...row, token };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/tokens/:id',
      summary: 'Revoke an API token',
      tag: 'tokens',
      access: 'owner',
      response: null,
      errors: { 409: 'Already revoked' },
      params: idParams,
      handler: async ({ params, auth, req }) => {
        const row = await ctx.db.apiToken.findUnique({ where: { id: params.id }, select: tokenSelect });
        if (!row) throw notFound('API token');
        if (row.revokedAt) throw new ApiError(409, 'conflict', 'Already revoked');
        await ctx.db.apiToken.update({ where: { id: row.id }, data: { revokedAt: new Date() } });
        await credentials.invalidate();
        await audit(ctx, req, auth, {
          action: 'token.revoke',
          resourceType: 'api_token',
          resourceId: row.id,
          oldValues: { name: row.name, role: row.role, tokenPrefix: row.tokenPrefix },
        });
        return undefined;
      },
    }),
  ];
}
