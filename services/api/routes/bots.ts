import { z } from 'zod';
import { controlBot, publishControl } from '../../../queues';
import { BotRegistryError, checkToken, registerBot } from '../../core/bots';
import { encryptSecret } from '../../core/crypto';
import { Prisma } from '../../core/db';
import { audit, changed } from '../audit';
import { botHealth, forgetProbe } from '../bot-health';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { windowPage } from '../pagination';
import * as R from '../responses';
import { defineRoute, type AnyRoute } from '../routing';
import { boolString, idParams, pageQuery, searchText } from '../schemas';

/** Every column but the encrypted token, which never leaves the server. */
export const botSelect = {
  id: true,
  telegramBotId: true,
  username: true,
  name: true,
  isActive: true,
  status: true,
  statusReason: true,
  restartCount: true,
  startedAt: true,
  lastHeartbeatAt: true,
  lastError: true,
  lastErrorAt: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
} as const;

const BOT_STATUSES = ['starting', 'running', 'stopping', 'stopped', 'crashed', 'restarting'] as const;
const tokenSchema = z
  .string()
  .trim()
  .regex(/^\d{5,15}:[A-Za-z0-9_-]{30,100}$/, 'expected a bot token like 123456:ABC… from @BotFather');

const registryError = (err: unknown): never => {
  if (err instanceof BotRegistryError) {
    if (err.code === 'duplicate') throw new ApiError(409, 'duplicate', err.message);
    if (err.code === 'invalid_token') throw new ApiError(422, 'invalid_token', err.message);
    if (err.code === 'telegram_unavailable') throw new ApiError(503, 'telegram_unavailable', err.message);
    if (err.code === 'key_missing' || err.code === 'key_wrong')
      throw new ApiError(503, 'encryption_key_missing', 'TOKEN_ENCRYPTION_KEY is not configured on the server');
  }
  throw err;
};

export function botRoutes({ ctx, queues }: ApiDeps): AnyRoute[] {
  const live = async (id: number) => {
    const bot = await ctx.db.botInstance.findFirst({ where: { id, deletedAt: null }, select: botSelect });
    if (!bot) throw notFound('Bot');
    return bot;
  };
  const action = (name: 'start' | 'stop' | 'restart') =>
    defineRoute({
      method: 'post',
      path: `/bots/:id/${name}`,
      summary: `${name[0]!.toUpperCase()}${name.slice(1)} a bot on every process`,
      tag: 'bots',
      access: 'admin',
      response: R.bot,
      params: idParams,
      status: 202,
      handler: async ({ params, auth, req }) => {
        const before = await live(params.id);
        await controlBot(ctx, before.id, name);
        const after = await live(params.id);
        await audit(ctx, req, auth, {
          action: `bot.${name}`,
          resourceType: 'bot',
          resourceId: before.id,
          oldValues: { isActive: before.isActive, status: before.status },
          newValues: { isActive: after.isActive, status: after.status },
        });
        return after;
      },
    });

  return [
    defineRoute({
      method: 'get',
      path: '/bots',
      summary: 'List bots (never their tokens)',
      tag: 'bots',
      access: 'viewer',
      response: R.pageOfItems(R.bot),
      query: z.object({
        ...pageQuery,
        status: z.enum(BOT_STATUSES).optional(),
        active: boolString.optional(),
        q: searchText.optional(),
      }),
      handler: async ({ query }) => {
        const where: Prisma.Sql[] = [Prisma.sql`deleted_at IS NULL`];
        if (query.status) where.push(Prisma.sql`status = ${query.status}`);
        if (query.active !== undefined) where.push(Prisma.sql`is_active = ${query.active}`);
        if (query.q)
          where.push(
            Prisma.sql`(username ILIKE ${`%${escapeLike(query.q)}%`} OR name ILIKE ${`%${escapeLike(query.q)}%`})`,
          );
        return windowPage(
          ctx.db,
          {
            select: Prisma.sql`id, telegram_bot_id AS "telegramBotId", username, name, is_active AS "isActive", status, status_reason AS "statusReason",
            restart_count AS "restartCount", started_at AS "startedAt", last_heartbeat_at AS "lastHeartbeatAt", last_error AS "lastError",
            last_error_at AS "lastErrorAt", created_by_id AS "createdById", created_at AS "createdAt", updated_at AS "updatedAt"`,
            from: Prisma.sql`bot_instances`,
            where,
            orderBy: Prisma.sql`id ASC`,
          },
          query.page,
          query.per_page,
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/bots',
      summary: 'Add a bot from its token (validated with getMe; stored encrypted)',
      tag: 'bots',
      access: 'admin',
      response: R.bot,
      errors: {
        409: 'This bot is registered already',
        422: 'Telegram refused the token',
        503: 'Telegram unreachable, or no TOKEN_ENCRYPTION_KEY',
      },
      status: 201,
      body: z.object({ token: tokenSchema }),
      handler: async ({ body, auth, req }) => {
        const row = await registerBot(ctx.db, ctx.config, body.token, {
          createdById: auth.userId ?? undefined,
          failOnDuplicate: true,
        }).catch(registryError);
        await publishControl(ctx, { type: 'bots-changed', botId: row.id });
        const bot = await live(row.id);
        await audit(ctx, req, auth, {
          action: 'bot.create',
          resourceType: 'bot',
          resourceId: bot.id,
          newValues: { telegramBotId: bot.telegramBotId, username: bot.username, name: bot.name },
        });
        return bot;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/bots/:id',
      summary: 'Get a bot with its group and channel counts',
      tag: 'bots',
      access: 'viewer',
      response: R.botWithCounts,
      params: idParams,
      handler: async ({ params }) => {
        const bot = await live(params.id);
        const [groups, protectedGroups, channels] = await Promise.all([
          ctx.db.protectedGroup.count({ where: { botInstanceId: bot.id } }),
          ctx.db.protectedGroup.count({ where: { botInstanceId: bot.id, enabled: true } }),
          ctx.db.enforcedChannel.count({ where: { botInstanceId: bot.id } }),
        ]);
        return { ...bot, counts: { groups, protectedGroups, channels } };
      },
    }),
    defineRoute({
      method: 'patch',
      path: '/bots/:id',
      summary: 'Rename a bot or replace its token (same Telegram bot only)',
      tag: 'bots',
      access: 'admin',
      response: R.bot,
      errors: {
        422: 'Telegram refused the token, or it is another bot',
        503: 'Telegram unreachable, or no TOKEN_ENCRYPTION_KEY',
      },
      params: idParams,
      body: z.object({ name: z.string().trim().min(1).max(100).optional(), token: tokenSchema.optional() }).strict(),
      handler: async ({ params, body, auth, req }) => {
        const before = await live(params.id);
        const data: { name?: string; tokenEncrypted?: string } = {};
        if (body.name !== undefined) data.name = body.name;
        if (body.token) {
          const key = ctx.config.TOKEN_ENCRYPTION_KEY;
          if (!key)
            throw new ApiError(503, 'encryption_key_missing', 'TOKEN_ENCRYPTION_KEY is not configured on the server');
          const me = await checkToken(ctx.config, body.token).catch(registryError);
          if (BigInt(me.id) !== before.telegramBotId)
            throw new ApiError(422, 'invalid_token', 'This token belongs to another bot');
          data.tokenEncrypted = encryptSecret(body.token, key);
        }
        const after = await ctx.db.botInstance.update({ where: { id: before.id }, data, select: botSelect });
        if (body.token) {
          await forgetProbe(ctx, before.id); // the cached health probe was the old token's
          await controlBot(ctx, before.id, 'restart');
        }
        const diff = changed(before, { name: body.name });
        await audit(ctx, req, auth, {
          action: 'bot.update',
          resourceType: 'bot',
          resourceId: before.id,
          oldValues: diff.oldValues,
          newValues: { ...diff.newValues, ...(body.token ? { tokenReplaced: true } : {}) },
        });
        return after;
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/bots/:id',
      summary: 'Delete a bot (soft: it stops everywhere, its history stays)',
      tag: 'bots',
      access: 'admin',
      response: null,
      params: idParams,
      handler: async ({ params, auth, req }) => {
        const before = await live(params.id);
        await ctx.db.botInstance.update({
          where: { id: before.id },
          data: { deletedAt: new Date(), isActive: false, status: 'stopped', statusReason: 'deleted by an operator' },
        });
        await publishControl(ctx, { type: 'bots-changed', botId: before.id });
        queues.dropBot(before.id);
        await audit(ctx, req, auth, {
          action: 'bot.delete',
          resourceType: 'bot',
          resourceId: before.id,
          oldValues: { username: before.username, isActive: before.isActive, status: before.status },
        });
        return undefined;
      },
    }),
    action('start'),
    action('stop'),
    action('restart'),
    defineRoute({
      method: 'get',
      path: '/bots/:id/health',
      summary: "A bot's health: heartbeat, getMe probe, breaker, queue depth and lag",
      tag: 'bots',
      access: 'viewer',
      response: R.botHealth,
      params: idParams,
      handler: async ({ params }) => {
        const health = await botHealth(ctx, params.id);
        if (!health) throw notFound('Bot');
        return health;
      },
    }),
  ];
}

export const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
