// The control API (/sim/...): set up the world, act as users, inject faults, read what happened.
import { z } from 'zod';
import {
  channelPost,
  join,
  joinSilently,
  leave,
  pressButton,
  privateMessage,
  requestJoin,
  resolveJoinRequest,
  setMember,
  SimError,
  userMessage,
} from './actions';
import { CONTROL_10_ROUTES } from './control-10';
import { faultRuleSchema, parseRule } from './faults';
import { allPermissions, intersectPermissions, normalizePermissions } from './permissions';
import { ADMIN_RIGHT_KEYS, type ChatRecord } from './types';
import { World, type BotRuntime } from './world';

export interface ControlResponse {
  status: number;
  body: unknown;
}

type Route = {
  method: string;
  pattern: RegExp;
  handle: (world: World, match: string[], body: unknown, query: URLSearchParams) => unknown;
};

const int = z.coerce.number().int();
const permissionsInput = z.record(z.string(), z.boolean());

const botInput = z.object({
  id: int.positive().optional(),
  token: z.string().optional(),
  username: z.string().optional(),
  firstName: z.string().optional(),
  canReadAllGroupMessages: z.boolean().optional(),
  allowedUpdates: z.array(z.string()).optional(),
  limits: z
    .object({
      enabled: z.boolean(),
      perBotPerSecond: int,
      perGroupPerMinute: int,
      groupWindowMs: int,
      perPrivateChatPerSecond: int,
    })
    .partial()
    .optional(),
});
const userInput = z.object({
  id: int.positive().optional(),
  firstName: z.string().optional(),
  lastName: z.string().optional(),
  username: z.string().optional(),
  languageCode: z.string().optional(),
});
const chatInput = z.object({
  type: z.enum(['group', 'supergroup', 'channel']),
  id: int.negative().optional(),
  title: z.string().optional(),
  username: z.string().optional(),
  ownerId: int.optional(),
  linkedChatId: int.optional(),
  permissions: permissionsInput.optional(),
  isForum: z.boolean().optional(),
  joinByRequest: z.boolean().optional(),
  description: z.string().optional(),
});
const memberInput = z.object({
  status: z.enum(['creator', 'administrator', 'member', 'restricted', 'left', 'kicked']),
  rights: z.record(z.string(), z.boolean()).optional(),
  permissions: permissionsInput.optional(),
  untilDate: int.optional(),
  isMember: z.boolean().optional(),
  isAnonymous: z.boolean().optional(),
  customTitle: z.string().optional(),
  actorId: int.optional(),
  silent: z.boolean().optional(),
});
const userIdInput = z.object({
  userId: int,
  actorId: int.optional(),
  inviteLink: z.string().optional(),
  bio: z.string().optional(),
});
const messageInput = z.object({
  fromId: int.optional(),
  text: z.string().min(1),
  messageThreadId: int.optional(),
  replyToMessageId: int.optional(),
  anonymousAdmin: z.boolean().optional(),
  senderChatId: int.optional(),
});

function botOf(world: World, id: string): BotRuntime {
  const runtime = world.botsById.get(Number(id));
  if (!runtime) throw new SimError(`bot ${id} not found`, 404);
  return runtime;
}

function chatOf(world: World, id: string): ChatRecord {
  const chat = world.chats.get(Number(id));
  if (!chat) throw new SimError(`chat ${id} not found`, 404);
  return chat;
}

/** What a member may actually do: admins everything, members the chat defaults, restricted their own ∧ defaults. */
function effectivePermissions(chat: ChatRecord, world: World, userId: number) {
  const record = world.member(chat, userId);
  if (World.isAdmin(record)) return allPermissions(true);
  if (record.status === 'member') return { ...chat.permissions };
  if (record.status === 'restricted' && record.isMember)
    return intersectPermissions(record.permissions!, chat.permissions);
  return allPermissions(false);
}

function describeBot(runtime: BotRuntime) {
  return {
    id: runtime.bot.user.id,
    token: runtime.bot.token,
    username: runtime.bot.user.username!,
    user: runtime.bot.user,
    revoked: runtime.bot.revoked,
    webhookUrl: runtime.bot.webhookUrl,
    allowedUpdates: runtime.updates.allowedUpdates(),
    pendingUpdates: runtime.updates.pendingCount(),
    deliveryHeld: runtime.updates.isHeld,
    limits: runtime.limiter.current(),
    faults: runtime.faults.list(),
  };
}

function describeChat(chat: ChatRecord) {
  return {
    id: chat.chat.id,
    chat: chat.chat,
    permissions: chat.permissions,
    linkedChatId: chat.linkedChatId ?? null,
    joinByRequest: chat.joinByRequest,
    memberCount: chat.memberCount,
    adminIds: [...chat.adminIds],
    bannedSenderChats: [...chat.bannedSenderChats],
  };
}

const routes: Route[] = [
  { method: 'POST', pattern: /^\/sim\/reset$/, handle: (world) => (world.reset(), { ok: true }) },
  {
    method: 'GET',
    pattern: /^\/sim\/state$/,
    handle: (world) => ({
      bots: world.botsById.size,
      users: world.users.size,
      chats: world.chats.size,
      now: world.now(),
    }),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/clock$/,
    handle: (world, _m, body) => {
      const { advanceSeconds } = z.object({ advanceSeconds: z.number() }).parse(body);
      world.clockOffsetMs += advanceSeconds * 1000;
      return { now: world.now() };
    },
  },

  // bots
  {
    method: 'POST',
    pattern: /^\/sim\/bots$/,
    handle: (world, _m, body) => {
      const input = botInput.parse(body ?? {});
      const runtime = world.createBot(stripUndefined(input));
      return describeBot(runtime);
    },
  },
  { method: 'GET', pattern: /^\/sim\/bots\/(\d+)$/, handle: (world, [, id]) => describeBot(botOf(world, id!)) },
  {
    method: 'POST',
    pattern: /^\/sim\/bots\/(\d+)\/revoke$/,
    handle: (world, [, id]) => {
      botOf(world, id!).bot.revoked = true;
      return { ok: true };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/bots\/(\d+)\/faults$/,
    handle: (world, [, id], body) => {
      const { rules, replace } = z
        .object({ rules: z.array(faultRuleSchema), replace: z.boolean().optional() })
        .parse(body);
      const faults = botOf(world, id!).faults;
      const valid = rules.map(parseRule); // all or nothing
      if (replace) faults.clear();
      for (const rule of valid) faults.add(rule);
      return { faults: faults.list() };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/sim\/bots\/(\d+)\/faults$/,
    handle: (world, [, id]) => (botOf(world, id!).faults.clear(), { faults: [] }),
  },
  {
    // A test control: hold the bot's updates at "Telegram" (getUpdates answers none) or release them at once.
    method: 'PUT',
    pattern: /^\/sim\/bots\/(\d+)\/delivery$/,
    handle: (world, [, id], body) => {
      const { held } = z.object({ held: z.boolean() }).parse(body);
      const { updates } = botOf(world, id!);
      updates.hold(held);
      return { held: updates.isHeld };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/sim\/bots\/(\d+)\/limits$/,
    handle: (world, [, id], body) => {
      const patch = botInput.shape.limits.unwrap().parse(body);
      return botOf(world, id!).limiter.configure(stripUndefined(patch));
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/bots\/(\d+)\/calls$/,
    handle: (world, [, id], _b, query) => {
      const calls = botOf(world, id!).calls;
      const method = query.get('method') ?? undefined;
      const sinceSeq = query.has('sinceSeq') ? Number(query.get('sinceSeq')) : undefined;
      return { calls: calls.list(stripUndefined({ method, sinceSeq })), counters: calls.counters };
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/sim\/bots\/(\d+)\/calls$/,
    handle: (world, [, id]) => (botOf(world, id!).calls.clear(), { ok: true }),
  },
  {
    method: 'GET',
    pattern: /^\/sim\/bots\/(\d+)\/updates$/,
    handle: (world, [, id]) => ({ updates: botOf(world, id!).updates.peekAll() }),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/bots\/(\d+)\/private-messages$/,
    handle: (world, [, id], body) => {
      const { userId, text } = z.object({ userId: int, text: z.string().min(1) }).parse(body);
      return privateMessage(world, Number(id), userId, text);
    },
  },

  // users
  {
    method: 'POST',
    pattern: /^\/sim\/users$/,
    handle: (world, _m, body) => world.createUser(stripUndefined(userInput.parse(body ?? {}))),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/users\/bulk$/,
    handle: (world, _m, body) => {
      const { count, firstName } = z
        .object({ count: int.min(1).max(1_000_000), firstName: z.string().optional() })
        .parse(body);
      const ids = new Array<number>(count);
      for (let i = 0; i < count; i++)
        ids[i] = world.createUser(firstName ? { firstName: `${firstName}${i + 1}` } : {}).id;
      return { ids };
    },
  },

  // chats
  {
    method: 'POST',
    pattern: /^\/sim\/chats$/,
    handle: (world, _m, body) => {
      const input = chatInput.parse(body);
      const permissions = input.permissions ? normalizePermissions(input.permissions, true) : undefined;
      const chat = world.createChat(stripUndefined({ ...input, permissions }));
      return describeChat(chat);
    },
  },
  { method: 'GET', pattern: /^\/sim\/chats\/(-?\d+)$/, handle: (world, [, id]) => describeChat(chatOf(world, id!)) },
  {
    method: 'PATCH',
    pattern: /^\/sim\/chats\/(-?\d+)$/,
    handle: (world, [, id], body) => {
      const chat = chatOf(world, id!);
      const input = z
        .object({
          permissions: permissionsInput,
          title: z.string(),
          joinByRequest: z.boolean(),
          linkedChatId: int,
          description: z.string(),
        })
        .partial()
        .parse(body);
      if (input.permissions) chat.permissions = normalizePermissions(input.permissions, true);
      if (input.title) chat.chat.title = input.title;
      if (input.joinByRequest !== undefined) chat.joinByRequest = input.joinByRequest;
      if (input.linkedChatId !== undefined) world.linkChats(chat, input.linkedChatId);
      if (input.description !== undefined) chat.description = input.description;
      return describeChat(chat);
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/chats\/(-?\d+)\/members\/(\d+)$/,
    handle: (world, [, chatId, userId]) => {
      const chat = chatOf(world, chatId!);
      const id = Number(userId);
      if (!world.users.has(id)) throw new SimError(`user ${userId} not found`, 404);
      const record = world.member(chat, id);
      return {
        status: record.status,
        isMember: World.isMember(record),
        untilDate: record.untilDate,
        chatMember: world.toChatMember(chat, id, record),
        effectivePermissions: effectivePermissions(chat, world, id),
      };
    },
  },
  {
    method: 'PUT',
    pattern: /^\/sim\/chats\/(-?\d+)\/members\/(\d+)$/,
    handle: (world, [, chatId, userId], body) => {
      const input = memberInput.parse(body);
      if (input.rights)
        for (const key of Object.keys(input.rights))
          if (!(ADMIN_RIGHT_KEYS as readonly string[]).includes(key)) throw new SimError(`unknown right ${key}`);
      setMember(world, Number(chatId), Number(userId), stripUndefined(input));
      return { ok: true };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/join$/,
    handle: (world, [, chatId], body) => {
      const { userId, actorId, inviteLink } = userIdInput.parse(body);
      return { outcome: join(world, Number(chatId), userId, stripUndefined({ actorId, inviteLink })) };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/leave$/,
    handle: (world, [, chatId], body) => {
      const { userId, actorId } = userIdInput.parse(body);
      leave(world, Number(chatId), userId, stripUndefined({ actorId }));
      return { ok: true };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/join-requests$/,
    handle: (world, [, chatId], body) => {
      const { userId, inviteLink, bio } = userIdInput.parse(body);
      requestJoin(world, Number(chatId), userId, stripUndefined({ inviteLink, bio }));
      return { ok: true };
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/chats\/(-?\d+)\/join-requests$/,
    handle: (world, [, chatId]) => ({
      requests: [...chatOf(world, chatId!).joinRequests].map(([userId, r]) => ({
        userId,
        date: r.date,
        inviteLink: r.inviteLink?.invite_link ?? null,
      })),
    }),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/join-requests\/(\d+)\/(approve|decline)$/,
    handle: (world, [, chatId, userId, action], body) => {
      const { actorId } = z.object({ actorId: int.optional() }).parse(body ?? {});
      resolveJoinRequest(world, Number(chatId), Number(userId), action === 'approve', actorId);
      return { ok: true };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/invite-links$/,
    handle: (world, [, chatId], body) => {
      const chat = chatOf(world, chatId!);
      const input = z
        .object({ createsJoinRequest: z.boolean().optional(), name: z.string().optional(), creatorId: int.optional() })
        .parse(body ?? {});
      const creatorId = input.creatorId ?? [...chat.adminIds][0];
      if (creatorId === undefined) throw new SimError('chat has no admin to create a link; pass creatorId');
      return world.newInviteLink(
        chat,
        world.requireUser(creatorId),
        stripUndefined({ creates_join_request: input.createsJoinRequest, name: input.name }),
      );
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/migrate$/,
    handle: (world, [, chatId], body) => {
      const { actorId } = z.object({ actorId: int.optional() }).parse(body ?? {});
      return { chat: world.migrateToSupergroup(chatOf(world, chatId!).chat.id, actorId).chat };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/messages$/,
    handle: (world, [, chatId], body) => userMessage(world, Number(chatId), stripUndefined(messageInput.parse(body))),
  },
  {
    method: 'GET',
    pattern: /^\/sim\/chats\/(-?\d+)\/messages$/,
    handle: (world, [, chatId]) => {
      const messages = [];
      for (const stored of chatOf(world, chatId!).messages.values()) if (!stored.deleted) messages.push(stored.message);
      return { messages };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/posts$/,
    handle: (world, [, chatId], body) =>
      channelPost(world, Number(chatId), z.object({ text: z.string().min(1) }).parse(body).text),
  },
  {
    method: 'POST',
    pattern: /^\/sim\/chats\/(-?\d+)\/messages\/(\d+)\/press$/,
    handle: (world, [, chatId, messageId], body) => {
      const { userId, data } = z.object({ userId: int, data: z.string() }).parse(body);
      return pressButton(world, Number(chatId), Number(messageId), userId, data);
    },
  },
  {
    method: 'GET',
    pattern: /^\/sim\/callback-queries\/(\d+)$/,
    handle: (world, [, id]) => {
      const query = world.callbackQueries.get(id!);
      if (!query) throw new SimError(`callback query ${id} not found`, 404);
      return { id: query.id, answered: query.answered, answer: query.answer ?? null };
    },
  },
  {
    method: 'POST',
    pattern: /^\/sim\/bulk\/joins$/,
    handle: (world, _m, body) => {
      const { chatId, userIds } = z.object({ chatId: int, userIds: z.array(int) }).parse(body);
      return { joined: joinSilently(world, chatId, userIds) };
    },
  },
  // guard bots, join-request queries, ephemeral messages
  ...CONTROL_10_ROUTES,
];

export function handleControl(
  world: World,
  method: string,
  path: string,
  query: string,
  body: unknown,
): ControlResponse {
  let pathMatched = false;
  for (const route of routes) {
    const match = route.pattern.exec(path);
    if (!match) continue;
    pathMatched = true;
    if (route.method !== method) continue;
    try {
      return { status: 200, body: route.handle(world, match, body, new URLSearchParams(query)) };
    } catch (error) {
      if (error instanceof SimError) return { status: error.status, body: { ok: false, error: error.message } };
      if (error instanceof z.ZodError) return { status: 400, body: { ok: false, error: z.prettifyError(error) } };
      if (error instanceof Error) return { status: 400, body: { ok: false, error: error.message } };
      throw error;
    }
  }
  return pathMatched
    ? { status: 405, body: { ok: false, error: `${method} not allowed on ${path}` } }
    : { status: 404, body: { ok: false, error: `no control endpoint ${method} ${path}` } };
}

/** exactOptionalPropertyTypes-friendly: drop undefined fields before passing objects on. */
function stripUndefined<T extends object>(input: T): { [K in keyof T]: Exclude<T[K], undefined> } {
  const out = {} as Record<string, unknown>;
  for (const [key, value] of Object.entries(input)) if (value !== undefined) out[key] = value;
  return out as { [K in keyof T]: Exclude<T[K], undefined> };
}
