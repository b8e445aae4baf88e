import { z } from 'zod';
import { announceGroupChange } from '../../../queues';
import { Prisma } from '../../core/db';
import { heldRestrictions } from '../../core/db/held-restrictions';
import { audit, changed } from '../audit';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { windowPage } from '../pagination';
import * as R from '../responses';
import { defineRoute, type AnyRoute } from '../routing';
import { boolString, dbId, idParams, pageQuery, searchText, telegramId } from '../schemas';

/**
 * A prefix full-text query for the 'simple' configuration from user text: words are reduced to letters,
 * digits and underscores and joined with &, so operators in the input mean nothing. Null when no word is left.
 */
export function prefixTsQuery(text: string): string | null {
  const words = text
    .split(/\s+/)
    .map((w) => w.replace(/[^\p{L}\p{N}_]/gu, '').toLowerCase())
    .filter(Boolean)
    .slice(0, 8);
  return words.length ? words.map((w) => `${w}:*`).join(' & ') : null;
}

const groupColumns = Prisma.sql`g.id, g.bot_instance_id AS "botInstanceId", g.chat_id AS "chatId", g.title, g.username, g.chat_type AS "chatType",
  g.is_forum AS "isForum", g.enabled, g.mode, g.prompt_lifetime_seconds AS "promptLifetimeSeconds",
  g.mute_duration_seconds AS "muteDurationSeconds", g.sender_chat_ban_after AS "senderChatBanAfter", g.prompt_style AS "promptStyle", g.language, g.member_count AS "memberCount", g.missing_rights AS "missingRights",
  g.guard_timeout_action AS "guardTimeoutAction", g.is_guard_bot AS "isGuardBot", g.guard_checked_at AS "guardCheckedAt",
  g.bot_removed_at AS "botRemovedAt", g.last_sync_at AS "lastSyncAt", g.created_at AS "createdAt", g.updated_at AS "updatedAt"`;

const groupSettings = z
  .object({
    enabled: z.boolean().optional(),
    mode: z.enum(['mute', 'join_request']).optional(),
    promptLifetimeSeconds: z.number().int().min(10).max(86_400).optional(),
    muteDurationSeconds: z
      .number()
      .int()
      .refine((v) => v === 0 || (v >= 30 && v <= 31_622_400), '0 (until verified) or 30 to 31622400 seconds')
      .optional(),
    language: z
      .string()
      .regex(/^[a-z]{2}$/, 'an ISO 639-1 code such as en')
      .optional(),
    customPromptText: z
      .string()
      .max(2048)
      .refine((v) => /\S/.test(v), 'must not be blank')
      .nullable()
      .optional(),
    /** Ban a channel that posts here on someone's behalf at its n-th deleted post (0 = only delete). */
    senderChatBanAfter: z.number().int().min(0).max(100).optional(),
    /** Guard-bot join requests not joined in time through the Web App: declined, or queued for the admins. */
    guardTimeoutAction: z.enum(['decline', 'queue']).optional(),
    /** Where prompts are shown: in the group, or to the muted user alone (an ephemeral message, Bot API 10.2+). */
    promptStyle: z.enum(['group', 'ephemeral']).optional(),
    /** When disabling: also unmute everyone the bot muted in the group (default true). */
    liftRestrictions: z.boolean().optional(),
  })
  .strict();

export function groupRoutes({ ctx, cache, queues }: ApiDeps): AnyRoute[] {
  const loadGroup = async (id: number) => {
    const group = await ctx.db.protectedGroup.findUnique({ where: { id } });
    if (!group || (await ctx.db.botInstance.count({ where: { id: group.botInstanceId, deletedAt: null } })) === 0)
      throw notFound('Group');
    return group;
  };
  const changedGroup = async (botId: number, chatId: bigint) => {
    await cache.invalidate('groups', 'channels');
    await announceGroupChange(ctx, botId, chatId);
  };

  return [
    defineRoute({
      method: 'get',
      path: '/groups',
      summary: 'List groups; filter by bot and enabled, search titles (full-text, prefix per word)',
      tag: 'groups',
      access: 'viewer',
      response: R.pageOfItems(R.groupSummary),
      query: z.object({
        ...pageQuery,
        bot_id: dbId.optional(),
        enabled: boolString.optional(),
        chat_id: telegramId.optional(),
        q: searchText.optional(),
      }),
      handler: async ({ query }) =>
        cache.read(
          'groups',
          `list:${JSON.stringify(query, (_k, v) => (typeof v === 'bigint' ? v.toString() : v))}`,
          async () => {
            const where: Prisma.Sql[] = [Prisma.sql`b.deleted_at IS NULL`];
            if (query.bot_id) where.push(Prisma.sql`g.bot_instance_id = ${query.bot_id}`);
            if (query.enabled !== undefined) where.push(Prisma.sql`g.enabled = ${query.enabled}`);
            if (query.chat_id !== undefined) where.push(Prisma.sql`g.chat_id = ${query.chat_id}`);
            if (query.q !== undefined) {
              const ts = prefixTsQuery(query.q);
              if (!ts) return { items: [], page: query.page, perPage: query.per_page, total: 0, totalPages: 0 };
              where.push(Prisma.sql`to_tsvector('simple', g.title) @@ to_tsquery('simple', ${ts})`);
            }
            return windowPage(
              ctx.db,
              {
                select: groupColumns,
                from: Prisma.sql`protected_groups g JOIN bot_instances b ON b.id = g.bot_instance_id`,
                where,
                orderBy: Prisma.sql`g.id DESC`,
              },
              query.page,
              query.per_page,
            );
          },
        ),
    }),
    defineRoute({
      method: 'get',
      path: '/groups/:id',
      summary:
        'Get a group with its settings, linked channels (botIsAdmin false: the bot cannot check that channel, uncheckableChannels counts them) and the restrictions that hold now',
      tag: 'groups',
      access: 'viewer',
      response: R.groupDetails,
      params: idParams,
      handler: async ({ params }) =>
        cache.read('groups', `item:${params.id}`, async () => {
          const group = await loadGroup(params.id);
          const [links, openRestrictions, whitelisted] = await Promise.all([
            ctx.db.groupChannelLink.findMany({
              where: { groupId: group.id },
              orderBy: [{ position: 'asc' }, { channelId: 'asc' }],
              select: {
                channel: { select: { id: true, channelId: true, title: true, username: true, botIsAdmin: true } },
              },
            }),
            ctx.db.restriction.count({ where: heldRestrictions(group.id) }),
            ctx.db.groupWhitelist.count({ where: { groupId: group.id } }),
          ]);
          const channels = links.map((l) => l.channel);
          return {
            ...group,
            channels,
            uncheckableChannels: channels.filter((c) => !c.botIsAdmin).length,
            openRestrictions,
            whitelisted,
          };
        }),
    }),
    defineRoute({
      method: 'patch',
      path: '/groups/:id',
      summary:
        "Change a group's settings (verifiers reload within moments); disabling unmutes everyone the bot muted unless liftRestrictions is false",
      tag: 'groups',
      access: 'admin',
      response: R.groupChanged,
      errors: { 409: 'The bot was removed from this group' },
      params: idParams,
      body: groupSettings,
      handler: async ({ params, body, auth, req }) => {
        const before = await loadGroup(params.id);
        const { liftRestrictions, ...settings } = body;
        if (settings.enabled === true && before.botRemovedAt)
          throw new ApiError(409, 'conflict', 'The bot was removed from this group; add it back first');
        const after = await ctx.db.protectedGroup.update({ where: { id: before.id }, data: settings });
        await changedGroup(before.botInstanceId, before.chatId);
        let liftJob: string | undefined;
        if (before.enabled && settings.enabled === false && liftRestrictions !== false) {
          liftJob = (
            await queues.liftRestrictions({
              botInstanceId: before.botInstanceId,
              groupId: before.id,
              reason: 'unprotected',
            })
          ).id;
        }
        const diff = changed(before, settings);
        await audit(ctx, req, auth, {
          action: 'group.update',
          resourceType: 'group',
          resourceId: before.id,
          oldValues: diff.oldValues,
          newValues: { ...diff.newValues, ...(liftJob ? { liftRestrictions: true } : {}) },
        });
        return { ...after, liftRestrictionsJobId: liftJob ?? null };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/groups/:id/unmute-all',
      summary: 'Unmute everyone the bot muted in the group (queued, paced); optionally disable protection too',
      tag: 'groups',
      access: 'admin',
      response: R.unmuteAllQueued,
      params: idParams,
      status: 202,
      body: z.object({ disable: z.boolean().default(false) }).strict(),
      handler: async ({ params, body, auth, req }) => {
        const group = await loadGroup(params.id);
        const open = await ctx.db.restriction.count({ where: heldRestrictions(group.id) });
        if (body.disable && group.enabled) {
          await ctx.db.protectedGroup.update({ where: { id: group.id }, data: { enabled: false } });
        }
        await changedGroup(group.botInstanceId, group.chatId);
        const job = await queues.liftRestrictions({
          botInstanceId: group.botInstanceId,
          groupId: group.id,
          reason: 'manual',
        });
        await audit(ctx, req, auth, {
          action: 'group.unmute_all',
          resourceType: 'group',
          resourceId: group.id,
          oldValues: { enabled: group.enabled, openRestrictions: open },
          newValues: { enabled: body.disable ? false : group.enabled },
        });
        return { jobId: job.id, openRestrictions: open, enabled: body.disable ? false : group.enabled };
      },
    }),
    defineRoute({
      method: 'post',
      path: '/groups/:id/channels',
      summary: 'Link a channel of the same bot to the group (members must subscribe to it)',
      tag: 'groups',
      access: 'admin',
      response: R.channelLinked,
      errors: { 409: 'Channel already linked' },
      params: idParams,
      status: 201,
      body: z.object({ channelId: z.number().int().positive().max(2_147_483_647) }).strict(),
      handler: async ({ params, body, auth, req }) => {
        const group = await loadGroup(params.id);
        const channel = await ctx.db.enforcedChannel.findFirst({
          where: { id: body.channelId, botInstanceId: group.botInstanceId },
        });
        if (!channel) throw new ApiError(404, 'not_found', "Channel not found for this group's bot");
        const exists = await ctx.db.groupChannelLink.findUnique({
          where: { groupId_channelId: { groupId: group.id, channelId: channel.id } },
        });
        if (exists) throw new ApiError(409, 'conflict', 'Channel already linked');
        // After the channels linked before it, in the prompt too.
        const last = await ctx.db.groupChannelLink.aggregate({
          where: { groupId: group.id },
          _max: { position: true },
        });
        await ctx.db.groupChannelLink.create({
          data: {
            groupId: group.id,
            channelId: channel.id,
            botInstanceId: group.botInstanceId,
            position: (last._max.position ?? -1) + 1,
          },
        });
        await changedGroup(group.botInstanceId, group.chatId);
        await audit(ctx, req, auth, {
          action: 'group.link_channel',
          resourceType: 'group',
          resourceId: group.id,
          newValues: { channelId: channel.id, channelTelegramId: channel.channelId },
        });
        return { groupId: group.id, channelId: channel.id };
      },
    }),
    defineRoute({
      method: 'delete',
      path: '/groups/:id/channels/:channelId',
      summary: 'Unlink a channel from the group',
      tag: 'groups',
      access: 'admin',
      response: null,
      params: z.object({ id: dbId, channelId: dbId }),
      handler: async ({ params, auth, req }) => {
        const group = await loadGroup(params.id);
        const { count } = await ctx.db.groupChannelLink.deleteMany({
          where: { groupId: group.id, channelId: params.channelId },
        });
        if (!count) throw notFound('Link');
        await changedGroup(group.botInstanceId, group.chatId);
        await audit(ctx, req, auth, {
          action: 'group.unlink_channel',
          resourceType: 'group',
          resourceId: group.id,
          oldValues: { channelId: params.channelId },
        });
        return undefined;
      },
    }),
  ];
}

const channelColumns = Prisma.sql`c.id, c.bot_instance_id AS "botInstanceId", c.channel_id AS "channelId", c.title, c.username,
  c.invite_link AS "inviteLink", c.subscriber_count AS "subscriberCount", c.bot_is_admin AS "botIsAdmin",
  c.last_sync_at AS "lastSyncAt", c.created_at AS "createdAt", c.updated_at AS "updatedAt"`;

export function channelRoutes({ ctx, cache }: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/channels',
      summary: 'List channels; filter by bot, search title and username (full-text, prefix per word)',
      tag: 'channels',
      access: 'viewer',
      response: R.pageOfItems(R.channel),
      query: z.object({ ...pageQuery, bot_id: dbId.optional(), q: searchText.optional() }),
      handler: async ({ query }) =>
        cache.read('channels', `list:${JSON.stringify(query)}`, async () => {
          const where: Prisma.Sql[] = [Prisma.sql`b.deleted_at IS NULL`];
          if (query.bot_id) where.push(Prisma.sql`c.bot_instance_id = ${query.bot_id}`);
          if (query.q !== undefined) {
            const ts = prefixTsQuery(query.q);
            if (!ts) return { items: [], page: query.page, perPage: query.per_page, total: 0, totalPages: 0 };
            where.push(
              Prisma.sql`to_tsvector('simple', coalesce(c.title, '') || ' ' || coalesce(c.username, '')) @@ to_tsquery('simple', ${ts})`,
            );
          }
          return windowPage(
            ctx.db,
            {
              select: channelColumns,
              from: Prisma.sql`enforced_channels c JOIN bot_instances b ON b.id = c.bot_instance_id`,
              where,
              orderBy: Prisma.sql`c.id DESC`,
            },
            query.page,
            query.per_page,
          );
        }),
    }),
    defineRoute({
      method: 'get',
      path: '/channels/:id',
      summary: 'Get a channel with the groups that require it',
      tag: 'channels',
      access: 'viewer',
      response: R.channelDetails,
      params: idParams,
      handler: async ({ params }) =>
        cache.read('channels', `item:${params.id}`, async () => {
          const channel = await ctx.db.enforcedChannel.findFirst({
            where: { id: params.id, botInstance: { deletedAt: null } },
          });
          if (!channel) throw notFound('Channel');
          const links = await ctx.db.groupChannelLink.findMany({
            where: { channelId: channel.id },
            select: { group: { select: { id: true, chatId: true, title: true, enabled: true } } },
            take: 500,
          });
          return { ...channel, groups: links.map((l) => l.group) };
        }),
    }),
  ];
}
