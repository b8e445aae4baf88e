import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { ApiDeps } from '../deps';
import { badRequest } from '../errors';
import * as R from '../responses';
import { defineRoute, JsonBody, type AnyRoute } from '../routing';
import { cursorQuery, dbId, isoDate, telegramId } from '../schemas';

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
        // User input is only ever a bound parameter: p(value) adds one and gives its placeholder.
        const where: string[] = [];
        const values: unknown[] = [];
        const p = (value: unknown) => (values.push(value), `$${values.length}`);
        if (query.cursor)
          where.push(`v.id < ${p((BigInt(query.cursor) > MAX_ID ? MAX_ID : BigInt(query.cursor)).toString())}`);
        if (query.bot_id) where.push(`v.bot_instance_id = ${p(query.bot_id)}`);
        if (query.chat_id !== undefined) where.push(`v.chat_id = ${p(query.chat_id.toString())}`);
        if (query.group_id) {
          const [group] = await ctx.sql.rows<{ chat_id: string; bot_instance_id: number }>(
            'SELECT chat_id, bot_instance_id FROM protected_groups WHERE id = $1',
            [query.group_id],
          );
          if (!group) return { items: [], nextCursor: null };
          where.push(`v.chat_id = ${p(group.chat_id)} AND v.bot_instance_id = ${p(group.bot_instance_id)}`);
        }
        if (query.user_id !== undefined) where.push(`v.user_id = ${p(query.user_id.toString())}`);
        if (query.status) where.push(`v.status = ${p(query.status)}`);
        if (query.from) where.push(`v.created_at >= ${p(query.from)}`);
        if (query.to) where.push(`v.created_at < ${p(query.to)}`);
        // PostgreSQL writes the page as JSON (row_to_json, in C) and the API sends that text as it is: 51 rows of ten
        // fields parsed into objects and serialized again cost the API process ~2.5× the CPU of one string.
        // int8 columns go out as strings and created_at as the ISO text Date#toJSON would give (timestamptz(3)
        // has milliseconds); one row more than the page says whether there is a next one.
        const limit = p(query.limit);
        const text = `WITH page AS (
             SELECT v.id, row_number() OVER (ORDER BY v.id DESC) AS n,
                    (SELECT item FROM (SELECT v.id::text AS "id", v.bot_instance_id AS "botInstanceId",
                       v.chat_id::text AS "chatId", v.user_id::text AS "userId", v.status, v.latency_ms AS "latencyMs",
                       v.cached, v.error_type AS "errorType", v.reason,
                       to_char(v.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') AS "createdAt") item) AS item
             FROM verification_log v ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
             ORDER BY v.id DESC LIMIT ${limit} + 1)
           SELECT '[' || coalesce(string_agg(row_to_json(item)::text, ',' ORDER BY id DESC) FILTER (WHERE n <= ${limit}), '') || ']' AS items,
                  (max(id) FILTER (WHERE n = ${limit}))::text AS last,
                  count(*) > ${limit} AS more
           FROM page`;
        // One prepared statement per combination of filters, named after its text (so a name never stands for two
        // texts): planned once per connection instead of on every request.
        const name = `vlog:${createHash('sha1').update(text).digest('base64url').slice(0, 16)}`;
        const [page] = await ctx.sql.rows<{ items: string; last: string | null; more: boolean }>(text, values, name);
        const nextCursor = page!.more ? `"${page!.last}"` : 'null';
        return new JsonBody(`{"items":${page!.items},"nextCursor":${nextCursor}}`);
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
