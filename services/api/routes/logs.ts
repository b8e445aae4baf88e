import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { badRequest } from '../errors';
import * as R from '../responses';
import { defineRoute, JsonBody, type AnyRoute } from '../routing';
import { cursorQuery, dbId, isoDate, telegramId } from '../schemas';
import { verificationPages, type Condition } from '../verification-pages';

const VERIFICATION_STATUSES = ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'] as const;

const range = <T extends { from?: Date; to?: Date }>(q: T) => {
  if (q.from && q.to && q.from >= q.to) throw badRequest('`from` must be before `to`');
};

/** Keyset page: newest first, `next_cursor` is the last id of this page (null at the end). */
const keyset = <T extends { id: bigint | number | string }>(rows: T[], limit: number) => ({
  items: rows.slice(0, limit),
  nextCursor: rows.length > limit ? String(rows[limit - 1]!.id) : null,
});

/**
 * An audit row as an admin sees it: what was done to what, by whom, when. Addresses and user agents say where
 * people are, and the name typed at a failed login is sometimes a password typed in the wrong field: owners only.
 */
const forAdmins = <T extends { ip: string | null; userAgent: string | null; action: string; newValues: unknown }>(
  row: T,
): T => ({
  ...row,
  ip: null,
  userAgent: null,
  newValues: row.action === 'auth.login_failed' ? null : row.newValues,
});

/** The largest id a cursor may name (int8): a longer one means "from the newest". */
const MAX_ID = 2n ** 63n - 1n;

export function logRoutes({ ctx }: ApiDeps): AnyRoute[] {
  const pages = verificationPages(ctx.sql);
  return [
    defineRoute({
      method: 'get',
      path: '/verifications',
      summary:
        'Verification decisions, newest first; filter by bot, group (Telegram chat id), user, status and time range; keyset cursor',
      tag: 'verifications',
      access: 'viewer',
      response: R.keysetOf(R.verification),
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
        // User input is only ever a value of a condition, sent as a bound parameter.
        const conditions: Condition[] = [];
        if (query.cursor) {
          const below = BigInt(query.cursor) > MAX_ID ? MAX_ID : BigInt(query.cursor);
          conditions.push({ column: 'id', op: '<', type: 'int8', value: below.toString() });
        }
        if (query.bot_id) conditions.push({ column: 'bot_instance_id', op: '=', type: 'int4', value: query.bot_id });
        if (query.chat_id !== undefined)
          conditions.push({ column: 'chat_id', op: '=', type: 'int8', value: query.chat_id.toString() });
        if (query.group_id) {
          const [group] = await ctx.sql.rows<{ chat_id: string; bot_instance_id: number }>(
            'SELECT chat_id, bot_instance_id FROM protected_groups WHERE id = $1',
            [query.group_id],
          );
          if (!group) return { items: [], nextCursor: null };
          conditions.push(
            { column: 'chat_id', op: '=', type: 'int8', value: group.chat_id },
            { column: 'bot_instance_id', op: '=', type: 'int4', value: group.bot_instance_id },
          );
        }
        if (query.user_id !== undefined)
          conditions.push({ column: 'user_id', op: '=', type: 'int8', value: query.user_id.toString() });
        if (query.status) conditions.push({ column: 'status', op: '=', type: 'text', value: query.status });
        if (query.from) conditions.push({ column: 'created_at', op: '>=', type: 'timestamptz', value: query.from });
        if (query.to) conditions.push({ column: 'created_at', op: '<', type: 'timestamptz', value: query.to });
        const page = await pages({ conditions, limit: query.limit });
        const nextCursor = page.more ? `"${page.last}"` : 'null';
        return new JsonBody(`{"items":${page.items},"nextCursor":${nextCursor}}`);
      },
    }),
    defineRoute({
      method: 'get',
      path: '/audit-log',
      summary:
        'Admin audit log, newest first; filter by actor, token, action, resource and time range; keyset cursor. Admins see it without addresses, user agents and the names typed at failed logins; owners see everything',
      tag: 'audit',
      access: 'admin',
      response: R.keysetOf(R.auditEntry),
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
      handler: async ({ query, auth }) => {
        range(query);
        const rows = await ctx.db.adminAuditLog.findMany({
          where: {
            ...(query.cursor ? { id: { lt: Math.min(Number(query.cursor), 2_147_483_647) } } : {}),
            ...(query.actor_id ? { actorId: query.actor_id } : {}),
            ...(query.token_id ? { actorTokenId: query.token_id } : {}),
            ...(query.action ? { action: query.action } : {}),
            ...(query.resource_type ? { resourceType: query.resource_type } : {}),
            ...(query.resource_id ? { resourceId: query.resource_id } : {}),
            ...(query.from || query.to
              ? { createdAt: { ...(query.from ? { gte: query.from } : {}), ...(query.to ? { lt: query.to } : {}) } }
              : {}),
          },
          orderBy: { id: 'desc' },
          take: query.limit + 1,
        });
        return keyset(auth.role === 'owner' ? rows : rows.map(forAdmins), query.limit);
      },
    }),
  ];
}
