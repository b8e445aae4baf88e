// Control endpoints for the Bot API 10.x features: guard bots and their join-request queries (what the user was
// shown, how each query ended) and ephemeral messages (who is offline, what each user sees, pressing their buttons).
import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { SimError } from './actions';
import type { EphemeralRecord } from './ephemeral';
import { nowMs } from './join-queries';
import type { ChatRecord } from './types';
import { World } from './world';

export type ControlRoute = {
  method: string;
  pattern: RegExp;
  handle: (world: World, match: string[], body: unknown, query: URLSearchParams) => unknown;
};

const int = z.coerce.number().int();

function chatOf(world: World, id: string): ChatRecord {
  const chat = world.chats.get(Number(id));
  if (!chat || chat.chat.type === 'private') throw new SimError(`chat ${id} not found`, 404);
  return chat;
}

function requireUserId(world: World, id: number): void {
  if (!world.users.has(id)) throw new SimError(`user ${id} not found`, 404);
}

/**
 * Names the chat's guard bot as its owner would (TDLib toggleSupergroupJoinByRequest): supergroups only, the bot must
 * support join request queries and be an administrator with can_invite_users; it turns join-by-request on.
 */
export function setGuardBot(world: World, chatId: string, botId: number | null): void {
  const chat = chatOf(world, chatId);
  const store = world.joinQueries;
  if (botId === null) {
    store.guardByChat.delete(chat.chat.id);
    return;
  }
  if (chat.chat.type !== 'supergroup') throw new SimError('only a supergroup can have a guard bot');
  if (!world.botsById.has(botId)) throw new SimError(`bot ${botId} not found`, 404);
  if (!store.guardCapableBots.has(botId))
    throw new SimError(`bot ${botId} does not support join request queries (PATCH /sim/bots/${botId})`);
  if (!World.hasRight(world.member(chat, botId), 'can_invite_users'))
    throw new SimError(`bot ${botId} must be an administrator with can_invite_users`);
  store.guardByChat.set(chat.chat.id, botId);
  chat.joinByRequest = true;
}

/** The user presses a button on an ephemeral message they see: the bot that sent it gets a callback_query. */
export function pressEphemeralButton(
  world: World,
  chatId: string,
  ephemeralMessageId: number,
  userId: number,
  data: string,
): { callbackQueryId: string } {
  const chat = chatOf(world, chatId);
  const user = world.users.get(userId);
  if (!user) throw new SimError(`user ${userId} not found`, 404);
  const record = world.ephemeral
    .visibleTo(chat.chat.id, userId, nowMs(world))
    .find((r) => r.ephemeralMessageId === ephemeralMessageId);
  if (!record)
    throw new SimError(`user ${userId} sees no ephemeral message ${ephemeralMessageId} in chat ${chatId}`, 404);
  if (record.deleted)
    throw new SimError(
      `ephemeral message ${ephemeralMessageId} was deleted by the bot (the user's app had not heard)`,
      409,
    );
  const hasButton = record.visible!.reply_markup?.inline_keyboard.some((row) =>
    row.some((b) => b.callback_data === data),
  );
  if (!hasButton)
    throw new SimError(
      `ephemeral message ${ephemeralMessageId} has no button with callback_data ${JSON.stringify(data)}`,
    );
  const runtime = world.botsById.get(record.botId);
  if (!runtime) throw new SimError(`bot ${record.botId} not found`, 404);
  const query = world.newCallbackQuery(record.botId, userId);
  query.origin = { chatId: chat.chat.id, messageId: 0, ephemeralMessageId };
  runtime.updates.enqueue('callback_query', {
    id: query.id,
    from: user,
    message: structuredClone(record.message),
    chat_instance: chat.chatInstance,
    data,
  });
  return { callbackQueryId: query.id };
}

/**
 * The user opens the guard bot's Web App as their Telegram app would: Telegram hands the page `initData` (in the URL
 * fragment as tgWebAppData), signed for the bot as core.telegram.org/bots/webapps#validating-data-received-via-the-mini-app
 * documents: hash = hex(HMAC_SHA256(data_check_string, key = HMAC_SHA256(bot_token, key = "WebAppData"))), where the
 * data_check_string is every other field as key=value, sorted, joined by "\n". Only user and auth_date are filled
 * (the fields a guard bot's page can rely on); Telegram's Ed25519 `signature` cannot be made without its private key.
 */
export function openJoinQueryWebApp(
  world: World,
  queryId: string,
): { url: string; launchUrl: string; initData: string } {
  const query = world.joinQueries.queries.get(queryId);
  if (!query) throw new SimError(`join request query ${queryId} not found`, 404);
  const state = world.joinQueries.state(world, query);
  if (state !== 'web_app' || !query.webApp)
    throw new SimError(`no Web App is open for join request query ${queryId} (state ${state})`, 409);
  const runtime = world.botsById.get(query.botId);
  const user = world.users.get(query.userId);
  if (!runtime || !user) throw new SimError(`bot or user of join request query ${queryId} is gone`, 404);
  const webAppUser: Record<string, unknown> = { id: user.id, first_name: user.first_name };
  if (user.last_name) webAppUser.last_name = user.last_name;
  if (user.username) webAppUser.username = user.username;
  if (user.language_code) webAppUser.language_code = user.language_code;
  const fields: Record<string, string> = { auth_date: String(world.now()), user: JSON.stringify(webAppUser) };
  const dataCheckString = Object.keys(fields)
    .sort()
    .map((key) => `${key}=${fields[key]}`)
    .join('\n');
  const secretKey = createHmac('sha256', 'WebAppData').update(runtime.bot.token).digest();
  const hash = createHmac('sha256', secretKey).update(dataCheckString).digest('hex');
  const initData = new URLSearchParams({ ...fields, hash }).toString();
  const url = query.webApp.url;
  return { url, launchUrl: `${url}#tgWebAppData=${encodeURIComponent(initData)}`, initData };
}

function describeEphemeral(record: EphemeralRecord, world: World) {
  return {
    ephemeralMessageId: record.ephemeralMessageId,
    botId: record.botId,
    receiverId: record.receiverId,
    delivered: record.delivered,
    deleted: record.deleted,
    expired: world.ephemeral.expired(record, nowMs(world)),
    replacesMessageId: record.replacesMessageId ?? null,
    /** the message as the bot last set it */
    message: record.message,
    /** what the receiver sees (null: nothing) */
    visible: record.visible ?? null,
  };
}

const joinQuerySettingsInput = z
  .object({
    answerWindowSeconds: z.number().positive(),
    webAppWindowSeconds: z.number().positive(),
    allowHttpWebApps: z.boolean(),
  })
  .partial();

export const CONTROL_10_ROUTES: ControlRoute[] = [
  // guard bots and join-request queries
  {
    method: 'PATCH',
    pattern: /^\/sim\/bots\/(\d+)$/,
    handle: (world, [, id], body) => {
      const botId = Number(id);
      if (!world.botsById.has(botId)) throw new SimError(`bot ${id} not found`, 404);
      const { supportsJoinRequestQueries } = z.object({ supportsJoinRequestQueries: z.boolean() }).parse(body);
      if (supportsJoinRequestQueries) world.joinQueries.guardCapableBots.add(botId);
      else world.joinQueries.guardCapableBots.delete(botId);
      return { id: botId, supportsJoinRequestQueries };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/sim\/chats\/(-?\d+)\/guard-bot$/,
    handle: (world, [, chatId], body) => {
      const { botId } = z.object({ botId: int.positive().nullable() }).parse(body);
      setGuardBot(world, chatId!, botId);
      return {
        chatId: Number(chatId),
        guardBotId: world.joinQueries.guardByChat.get(Number(chatId)) ?? null,
        joinByRequest: chatOf(world, chatId!).joinByRequest,
      };
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/join-queries$/,
    handle: (world, _m, _b, query) => {
      const filter = z
        .object({ chatId: int.optional(), userId: int.optional(), botId: int.optional() })
        .parse(Object.fromEntries(query));
      const queries = [...world.joinQueries.queries.values()].filter(
        (q) =>
          (filter.chatId === undefined || q.chatId === filter.chatId) &&
          (filter.userId === undefined || q.userId === filter.userId) &&
          (filter.botId === undefined || q.botId === filter.botId),
      );
      return { queries: queries.map((q) => world.joinQueries.describe(world, q)) };
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/join-queries\/settings$/,
    handle: (world) => world.joinQueries.settings,
  },
  {
    method: 'PUT',
    pattern: /^\/sim\/join-queries\/settings$/,
    handle: (world, _m, body) => {
      const patch = joinQuerySettingsInput.parse(body);
      const settings = world.joinQueries.settings;
      if (patch.answerWindowSeconds !== undefined) settings.answerWindowSeconds = patch.answerWindowSeconds;
      if (patch.webAppWindowSeconds !== undefined) settings.webAppWindowSeconds = patch.webAppWindowSeconds;
      if (patch.allowHttpWebApps !== undefined) settings.allowHttpWebApps = patch.allowHttpWebApps;
      return settings;
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/join-queries\/(\d+)\/open$/,
    handle: (world, [, id]) => openJoinQueryWebApp(world, id!),
  },
  {
    method: 'GET',
    pattern: /^\/sim\/join-queries\/(\d+)$/,
    handle: (world, [, id]) => {
      const query = world.joinQueries.queries.get(id!);
      if (!query) throw new SimError(`join request query ${id} not found`, 404);
      return world.joinQueries.describe(world, query);
    },
  },

  // ephemeral messages
  {
    method: 'PUT',
    pattern: /^\/sim\/users\/(\d+)\/presence$/,
    handle: (world, [, id], body) => {
      const userId = Number(id);
      requireUserId(world, userId);
      const { online } = z.object({ online: z.boolean() }).parse(body);
      if (online) world.ephemeral.offlineUserIds.delete(userId);
      else world.ephemeral.offlineUserIds.add(userId);
      return { userId, online };
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/ephemeral\/settings$/,
    handle: (world) => world.ephemeral.settings,
  },
  {
    method: 'PUT',
    pattern: /^\/sim\/ephemeral\/settings$/,
    handle: (world, _m, body) => {
      const { lifetimeSeconds } = z.object({ lifetimeSeconds: z.number().min(0) }).parse(body);
      world.ephemeral.settings.lifetimeSeconds = lifetimeSeconds;
      return world.ephemeral.settings;
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/chats\/(-?\d+)\/ephemeral$/,
    handle: (world, [, chatId]) => ({
      messages: world.ephemeral.list(chatOf(world, chatId!).chat.id).map((r) => describeEphemeral(r, world)),
    }),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/ephemeral\/(\d+)\/press$/,
    handle: (world, [, chatId, ephemeralId], body) => {
      const { userId, data } = z.object({ userId: int, data: z.string() }).parse(body);
      return pressEphemeralButton(world, chatId!, Number(ephemeralId), userId, data);
    },
  },
  {
    // The chat as one user sees it: the group's messages (less those an ephemeral message replaced for this user)
    // and the ephemeral messages shown to this user.
    method: 'GET',
    pattern: /^\/sim\/chats\/(-?\d+)\/view\/(\d+)$/,
    handle: (world, [, chatId, userId]) => {
      const chat = chatOf(world, chatId!);
      const id = Number(userId);
      requireUserId(world, id);
      const ephemeral = world.ephemeral.visibleTo(chat.chat.id, id, nowMs(world));
      const replaced = new Set(ephemeral.map((r) => r.replacesMessageId).filter((m) => m !== undefined));
      const messages = [];
      for (const stored of chat.messages.values())
        if (!stored.deleted && !replaced.has(stored.message.message_id)) messages.push(stored.message);
      return {
        messages,
        ephemeral: ephemeral.map((r) => ({ message: r.visible!, replacesMessageId: r.replacesMessageId ?? null })),
      };
    },
  },
];
