import { z } from 'zod';
import { Prisma } from '../../core/db';
import type { ApiDeps } from '../deps';
import { badRequest } from '../errors';
import { defineRoute, type AnyRoute } from '../routing';
import { cursorQuery, dbId, isoDate, telegramId } from '../schemas';

const VERIFICATION_STATUSES = ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'] as const;

const range = <T extends { from?: Date; to?: Date }>(q: T) => {
  if (q.from && q.to && q.from >= q.to) throw badRequest('`from` must be before `to`');
};

/** Keyset page: newest first, `next_cursor` is the last id of this page (null at the end). */
const keyset = <T extends { id: bigint | number }>(rows: T[], limit: number) => ({
  items: rows.slice(0, limit),
  nextCursor: rows.length > limit ? String(rows[limit - 1]!.id) : null,
});

export function logRoutes({ ctx }: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/verifications',
      summary: 'Verification decisions, newest first; filter by bot, group (Telegram chat id), user, status and time range; keyset cursor',
      tag: 'verifications',
      access: 'viewer',
      query: z.object({
        ...cursorQuery,
        bot_id: dbId.optional(),
        chat_id: telegramId.optional(),
        group_id: dbId.optional(),
        user_id: telegramId.optional(),
        status: z.enum(VERIFICATION_STATUSES).optional(),
        from: isoDate.optional(),
        to: isoDate.optional(),
      }),
      handler: async ({ query }) => {
        range(query);
        const where: Prisma.Sql[] = [];
        if (query.cursor) where.push(Prisma.sql`v.id < ${BigInt(query.cursor)}`);
        if (query.bot_id) where.push(Prisma.sql`v.bot_instance_id = ${query.bot_id}`);
        if (query.chat_id !== undefined) where.push(Prisma.sql`v.chat_id = ${query.chat_id}`);
        if (query.group_id) {
          const group = await ctx.db.protectedGroup.findUnique({ where: { id: query.group_id }, select: { chatId: true, botInstanceId: true } });
          if (!group) return { items: [], nextCursor: null };
          where.push(Prisma.sql`v.chat_id = ${group.chatId} AND v.bot_instance_id = ${group.botInstanceId}`);
        }
        if (query.user_id !== undefined) where.push(Prisma.sql`v.user_id = ${query.user_id}`);
        if (query.status) where.push(Prisma.sql`v.status = ${query.status}`);
        if (query.from) where.push(Prisma.sql`v.created_at >= ${query.from}`);
        if (query.to) where.push(Prisma.sql`v.created_at < ${query.to}`);
        const rows = await ctx.db.$queryRaw<Array<{ id: bigint }>>`
          SELECT v.id, v.bot_instance_id AS "botInstanceId", v.chat_id AS "chatId", v.user_id AS "userId", v.status,
                 v.latency_ms AS "latencyMs", v.cached, v.error_type AS "errorType", v.created_at AS "createdAt"
          FROM verification_log v ${where.length ? Prisma.sql`WHERE ${Prisma.join(where, ' AND ')}` : Prisma.empty}
          ORDER BY v.id DESC LIMIT ${query.limit + 1}`;
        return keyset(rows, query.limit);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/audit-log',
      summary: 'Admin audit log, newest first; filter by actor, token, action, resource and time range; keyset cursor',
      tag: 'audit',
      access: 'viewer',
      query: z.object({
        ...cursorQuery,
        actor_id: dbId.optional(),
        token_id: dbId.optional(),
        action: z.string().max(100).optional(),
        resource_type: z.string().max(100).optional(),
        resource_id: z.string().max(100).optional(),
        from: isoDate.optional(),
        to: isoDate.optional(),
      }),
      handler: async ({ query }) => {
        range(query);
        const rows = await ctx.db.adminAuditLog.findMany({
          where: {
            ...(query.cursor ? { id: { lt: Math.min(Number(query.cursor), 2_147_483_647) } } : {}),
            ...(query.actor_id ? { actorId: query.actor_id } : {}),
            ...(query.token_id ? { actorTokenId: query.token_id } : {}),
            ...(query.action ? { action: query.action } : {}),
            ...(query.resource_type ? { resourceType: query.resource_type } : {}),
            ...(query.resource_id ? { resourceId: query.resource_id } : {}),
            ...(query.from || query.to ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } } : {}),
          },
          orderBy: { id: 'desc' },
          take: query.limit + 1,
        });
        return keyset(rows, query.limit);
      },
    }),
  ];
}
