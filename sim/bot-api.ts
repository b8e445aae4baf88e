// Bot API method handlers. Each one validates like Telegram, changes the world, and returns `result`.
import { BotApiError, Errors } from './errors';
import {
  chatIdParam,
  optionalBool,
  optionalInt,
  optionalJson,
  optionalString,
  requiredInt,
  type Params,
} from './params';
import { normalizePermissions } from './permissions';
import { SEND_METHODS } from './limits';
import type { ChatRecord, InlineKeyboardMarkup, MemberRecord, TgMessage, TgUser } from './types';
import { World, type BotRuntime } from './world';

export interface CallContext {
  world: World;
  runtime: BotRuntime;
  params: Params;
  /** registers a callback for when the client goes away (used by long polls) */
  onClientGone: (callback: () => void) => void;
}

export type Handler = (ctx: CallContext) => unknown;

const MAX_TEXT_LENGTH = 4096;
const FOREVER_MIN_SECONDS = 30;
const FOREVER_MAX_SECONDS = 366 * 86400;

// ---------- shared checks ----------

export function chatParam(ctx: CallContext): ChatRecord {
  const chat = ctx.world.resolveChat(chatIdParam(ctx.params));
  if (!chat) throw Errors.chatNotFound();
  // A group upgraded to a supergroup answers every method with the new id, so clients can follow it.
  if (chat.migratedToChatId !== undefined) throw Errors.groupUpgraded(chat.migratedToChatId);
  return chat;
}

export function userParam(ctx: CallContext): TgUser {
  const id = requiredInt(ctx.params, 'user_id', () => Errors.badRequest('invalid user_id specified'));
  const user = ctx.world.users.get(id);
  if (!user) throw Errors.userNotFound();
  return user;
}

export function botMember(ctx: CallContext, chat: ChatRecord): MemberRecord {
  return ctx.world.member(chat, ctx.runtime.bot.user.id);
}

/** The bot must be in the group/channel to act on it. */
export function requireBotInChat(ctx: CallContext, chat: ChatRecord): MemberRecord {
  const me = botMember(ctx, chat);
  if (me.status === 'kicked') throw Errors.botKicked(chat.chat.type);
  if (!World.isMember(me)) throw Errors.botNotMember(chat.chat.type);
  return me;
}

/**
 * Reading members: in channels Telegram answers only to admins ("member list is inaccessible");
 * in groups the bot must be in the chat.
 */
function requireMemberListAccess(ctx: CallContext, chat: ChatRecord): void {
  if (chat.chat.type === 'private') return;
  const me = botMember(ctx, chat);
  if (me.status === 'kicked') throw Errors.botKicked(chat.chat.type);
  if (chat.chat.type === 'channel') {
    if (!World.isAdmin(me)) throw Errors.memberListInaccessible();
    return;
  }
  if (!World.isMember(me)) throw Errors.botNotMember(chat.chat.type);
}

function requireRight(ctx: CallContext, chat: ChatRecord, right: 'can_restrict_members' | 'can_invite_users'): void {
  const me = requireBotInChat(ctx, chat);
  if (World.hasRight(me, right)) return;
  throw right === 'can_restrict_members' ? Errors.notEnoughRightsToRestrict() : Errors.chatAdminRequired();
}

/** Telegram: until_date less than 30 s or more than 366 days from now means forever (0). */
function untilDateParam(ctx: CallContext): number {
  const until = optionalInt(ctx.params, 'until_date') ?? 0;
  if (until <= 0) return 0;
  const delta = until - ctx.world.now();
  return delta < FOREVER_MIN_SECONDS || delta > FOREVER_MAX_SECONDS ? 0 : until;
}

/** Owners and administrators cannot be restricted, banned or removed by a bot. */
function requireNotPrivileged(target: MemberRecord): void {
  if (target.status === 'creator') throw Errors.cantRemoveOwner();
  if (target.status === 'administrator') throw Errors.userIsAdministrator();
}

export function replyMarkupParam(ctx: CallContext): InlineKeyboardMarkup | undefined {
  const markup = optionalJson<Record<string, unknown>>(ctx.params, 'reply_markup');
  if (markup === undefined) return undefined;
  const rows = markup.inline_keyboard;
  if (rows === undefined) return undefined; // reply keyboards etc. are accepted and not stored
  if (!Array.isArray(rows) || rows.some((row) => !Array.isArray(row))) {
    throw Errors.badRequest("can't parse inline keyboard button: InlineKeyboardMarkup must be an Array of Arrays");
  }
  for (const row of rows as unknown[][]) {
    for (const button of row as Record<string, unknown>[]) {
      if (typeof button?.text !== 'string' || button.text === '')
        throw Errors.badRequest('text buttons are unallowed in the inline keyboard');
      const data = button.callback_data;
      if (
        data !== undefined &&
        (typeof data !== 'string' || Buffer.byteLength(data) < 1 || Buffer.byteLength(data) > 64)
      ) {
        throw Errors.buttonDataInvalid();
      }
    }
  }
  return { inline_keyboard: rows as InlineKeyboardMarkup['inline_keyboard'] };
}

export function textParam(ctx: CallContext): string {
  const text = optionalString(ctx.params, 'text') ?? '';
  if (text.trim() === '') throw Errors.messageTextEmpty();
  if (text.length > MAX_TEXT_LENGTH) throw Errors.messageTooLong();
  return text;
}

function storedMessage(ctx: CallContext, chat: ChatRecord, notFound: () => BotApiError) {
  const id = requiredInt(ctx.params, 'message_id', () => Errors.badRequest('message identifier is not specified'));
  const stored = chat.messages.get(id);
  if (!stored || stored.deleted) throw notFound();
  return stored;
}

export function enforceSendLimit(ctx: CallContext, method: string, chatId: number): void {
  if (!SEND_METHODS.has(method)) return;
  const retryAfter = ctx.runtime.limiter.trySend(chatId);
  if (retryAfter !== undefined) throw Errors.tooManyRequests(retryAfter);
}

// ---------- handlers ----------

const getMe: Handler = ({ runtime }) => ({
  ...runtime.bot.user,
  can_join_groups: true,
  can_read_all_group_messages: runtime.bot.canReadAllGroupMessages,
  supports_inline_queries: false,
  can_connect_to_business: false,
  has_main_web_app: false,
});

const getUpdates: Handler = async (ctx) => {
  const { updates } = ctx.runtime;
  if (ctx.runtime.bot.webhookUrl) throw Errors.webhookConflict();
  if (updates.pollInFlight) {
    // A client that just aborted its long poll and polls again (Telegraf's stop() does) may be read before
    // the old socket's close event; let pending I/O callbacks run once before calling it a conflict.
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (updates.pollInFlight) {
      throw Errors.pollConflict();
    }
  }
  const offset = optionalInt(ctx.params, 'offset') ?? 0;
  const rawLimit = optionalInt(ctx.params, 'limit') ?? 100;
  const limit = rawLimit < 1 || rawLimit > 100 ? 100 : rawLimit;
  const timeout = Math.max(0, optionalInt(ctx.params, 'timeout') ?? 0);
  const allowed = optionalJson<string[]>(ctx.params, 'allowed_updates');
  if (allowed !== undefined && !Array.isArray(allowed))
    throw Errors.badRequest("can't parse allowed_updates JSON array");
  updates.pollInFlight = true;
  try {
    updates.setAllowedUpdates(allowed);
    const ready = updates.take(offset, limit);
    if (ready.length > 0 || timeout === 0) return ready;
    const wait = updates.waitForUpdate(timeout * 1000);
    ctx.onClientGone(wait.cancel);
    await wait.promise;
    return updates.take(0, limit);
  } finally {
    updates.pollInFlight = false;
  }
};

const getChat: Handler = (ctx) => {
  const chat = chatParam(ctx);
  const { chat: base } = chat;
  if (base.type !== 'private') {
    const me = botMember(ctx, chat);
    if (me.status === 'kicked') throw Errors.botKicked(base.type);
    // Private (no username) chats are invisible to bots that are not in them.
    if (!World.isMember(me) && !base.username) throw Errors.chatNotFound();
  }
  const info: Record<string, unknown> = { ...base, accent_color_id: 0, max_reaction_count: 11 };
  if (base.type === 'group' || base.type === 'supergroup') info.permissions = { ...chat.permissions };
  if (chat.linkedChatId !== undefined) info.linked_chat_id = chat.linkedChatId;
  if (chat.description) info.description = chat.description;
  if (chat.joinByRequest) info.join_by_request = true;
  if (chat.primaryInviteLink && World.hasRight(botMember(ctx, chat), 'can_invite_users')) {
    info.invite_link = chat.primaryInviteLink.invite_link;
  }
  return info;
};

const getChatMember: Handler = (ctx) => {
  const chat = chatParam(ctx);
  const user = userParam(ctx);
  requireMemberListAccess(ctx, chat);
  return ctx.world.toChatMember(chat, user.id, ctx.world.member(chat, user.id));
};

const getChatAdministrators: Handler = (ctx) => {
  const chat = chatParam(ctx);
  if (chat.chat.type === 'private') throw Errors.badRequest('there are no administrators in the private chat');
  requireMemberListAccess(ctx, chat);
  const admins = [];
  for (const id of chat.adminIds) {
    // Telegram lists only non-bot administrators.
    if (ctx.world.botsById.has(id)) continue;
    admins.push(ctx.world.toChatMember(chat, id, ctx.world.member(chat, id)));
  }
  return admins;
};

const getChatMemberCount: Handler = (ctx) => {
  const chat = chatParam(ctx);
  if (chat.chat.type === 'private') return 2;
  const me = botMember(ctx, chat);
  if (me.status === 'kicked') throw Errors.botKicked(chat.chat.type);
  if (!World.isMember(me) && !chat.chat.username) throw Errors.chatNotFound();
  return chat.memberCount;
};

const restrictChatMember: Handler = (ctx) => {
  const chat = chatParam(ctx);
  if (chat.chat.type !== 'supergroup') throw Errors.onlySupergroups();
  const user = userParam(ctx);
  requireRight(ctx, chat, 'can_restrict_members');
  if (user.id === ctx.runtime.bot.user.id) throw Errors.cantRestrictSelf();
  const raw = optionalJson<Record<string, unknown>>(ctx.params, 'permissions');
  if (raw === undefined || typeof raw !== 'object' || Array.isArray(raw))
    throw Errors.badRequest("can't parse permissions JSON object");
  const current = ctx.world.member(chat, user.id);
  requireNotPrivileged(current);
  const permissions = normalizePermissions(raw, optionalBool(ctx.params, 'use_independent_chat_permissions') ?? false);
  const untilDate = untilDateParam(ctx);
  // Only every permission granted lifts a restriction ("Pass True for all permissions to lift restrictions
  // from a user"); a set equal to the chat's defaults is still a restriction. See World.restriction.
  ctx.world.changeMember(chat, user.id, World.restriction(permissions, untilDate, World.isMember(current)), {
    actor: ctx.runtime.bot.user,
  });
  return true;
};

const banChatMember: Handler = (ctx) => {
  const chat = chatParam(ctx);
  if (chat.chat.type === 'private')
    throw Errors.badRequest('method is available for supergroup and channel chats only');
  const user = userParam(ctx);
  requireRight(ctx, chat, 'can_restrict_members');
  if (user.id === ctx.runtime.bot.user.id) throw Errors.cantRestrictSelf();
  requireNotPrivileged(ctx.world.member(chat, user.id));
  const untilDate = chat.chat.type === 'group' ? 0 : untilDateParam(ctx);
  ctx.world.changeMember(
    chat,
    user.id,
    { status: 'kicked', untilDate, isMember: false },
    { actor: ctx.runtime.bot.user, serviceMessage: true },
  );
  return true;
};

const unbanChatMember: Handler = (ctx) => {
  const chat = chatParam(ctx);
  if (chat.chat.type === 'private')
    throw Errors.badRequest('method is available for supergroup and channel chats only');
  const user = userParam(ctx);
  requireRight(ctx, chat, 'can_restrict_members');
  const current = ctx.world.member(chat, user.id);
  if (current.status === 'kicked') {
    ctx.world.changeMember(
      chat,
      user.id,
      { status: 'left', untilDate: 0, isMember: false },
      { actor: ctx.runtime.bot.user },
    );
    return true;
  }
  if (optionalBool(ctx.params, 'only_if_banned')) return true;
  requireNotPrivileged(current);
  // Telegram: without only_if_banned, the user is guaranteed not to be a member afterwards.
  if (World.isMember(current)) {
    ctx.world.changeMember(
      chat,
      user.id,
      { status: 'left', untilDate: 0, isMember: false },
      { actor: ctx.runtime.bot.user, serviceMessage: true },
    );
  }
  return true;
};

/**
 * banChatSenderChat / unbanChatSenderChat: supergroups and channels, by an admin with can_restrict_members.
 * "Until the chat is unbanned, the owner of the banned chat won't be able to send messages on behalf of" it
 * (Bot API); the chat's messages are not touched.
 */
function senderChatTarget(ctx: CallContext): { chat: ChatRecord; senderChatId: number } {
  const chat = chatParam(ctx);
  if (chat.chat.type !== 'supergroup' && chat.chat.type !== 'channel')
    throw Errors.badRequest('method is available for supergroup and channel chats only');
  requireRight(ctx, chat, 'can_restrict_members');
  const senderChatId = requiredInt(ctx.params, 'sender_chat_id', () => Errors.missingParam('sender_chat_id'));
  const sender = ctx.world.chats.get(senderChatId);
  if (!sender || sender.chat.type === 'private') throw Errors.chatNotFound();
  return { chat, senderChatId };
}

const banChatSenderChat: Handler = (ctx) => {
  const { chat, senderChatId } = senderChatTarget(ctx);
  chat.bannedSenderChats.add(senderChatId);
  return true;
};

const unbanChatSenderChat: Handler = (ctx) => {
  const { chat, senderChatId } = senderChatTarget(ctx);
  chat.bannedSenderChats.delete(senderChatId);
  return true;
};

function sendMessageTo(ctx: CallContext, method: string): TgMessage {
  const chat = resolveSendTarget(ctx);
  const text = textParam(ctx);
  const replyMarkup = replyMarkupParam(ctx);
  const threadId = optionalInt(ctx.params, 'message_thread_id');
  const replyParameters = optionalJson<{ message_id?: number }>(ctx.params, 'reply_parameters');
  const replyToId = replyParameters?.message_id ?? optionalInt(ctx.params, 'reply_to_message_id');
  enforceSendLimit(ctx, method, chat.chat.id);
  const replyTo = replyToId !== undefined ? chat.messages.get(replyToId) : undefined;
  if (replyToId !== undefined && (!replyTo || replyTo.deleted) && replyParameters?.message_id !== undefined) {
    throw Errors.badRequest('message to be replied not found');
  }
  const fields: Omit<TgMessage, 'message_id' | 'date' | 'chat'> = { from: ctx.runtime.bot.user, text };
  if (chat.chat.type === 'channel') {
    delete fields.from;
    fields.sender_chat = chat.chat;
  }
  if (threadId !== undefined && chat.chat.is_forum) {
    fields.message_thread_id = threadId;
    fields.is_topic_message = true;
  }
  if (replyTo && !replyTo.deleted) fields.reply_to_message = replyTo.message;
  if (replyMarkup) fields.reply_markup = replyMarkup;
  // Entities given with the text (e.g. text_mention) come back on the Message as Telegram returns them. Bot API,
  // sendMessage: `entities` "can be specified instead of parse_mode"; Message.entities: "special entities like
  // usernames, URLs, bot commands, etc. that appear in the text" (core.telegram.org/bots/api#sendmessage).
  const entities = optionalJson<unknown>(ctx.params, 'entities');
  if (Array.isArray(entities) && entities.length) (fields as Record<string, unknown>).entities = entities;
  const message = ctx.world.postMessage(chat, fields, { exceptBotId: ctx.runtime.bot.user.id });
  if (chat.chat.type === 'channel') ctx.world.forwardToDiscussionGroup(chat, message);
  return message;
}

export function resolveSendTarget(ctx: CallContext): ChatRecord {
  const chatId = chatIdParam(ctx.params);
  if (typeof chatId === 'number' && chatId > 0) {
    const user = ctx.world.users.get(chatId);
    if (!user) throw Errors.chatNotFound();
    if (user.is_bot) throw Errors.botCantSendToBots();
    if (!ctx.runtime.bot.startedUserIds.has(user.id) && !hasPendingJoinRequest(ctx, user.id))
      throw Errors.cantInitiateConversation();
    return ctx.world.privateChatRecord(user);
  }
  const chat = chatParam(ctx);
  const me = requireBotInChat(ctx, chat);
  if (chat.chat.type === 'channel') {
    if (!World.hasRight(me, 'can_post_messages')) throw Errors.needChannelAdmin();
  } else if (!World.isAdmin(me)) {
    const canSend = me.status === 'restricted' ? me.permissions?.can_send_messages : chat.permissions.can_send_messages;
    if (!canSend) throw Errors.notEnoughRightsToSend();
  }
  return chat;
}

/** Telegram lets a bot message a join requester (for 5 minutes) even if they never started it. */
function hasPendingJoinRequest(ctx: CallContext, userId: number): boolean {
  const now = ctx.world.now();
  for (const chatId of ctx.world.joinRequestChatsOf(userId)) {
    const chat = ctx.world.chats.get(chatId);
    const request = chat?.joinRequests.get(userId);
    if (chat && request && now - request.date <= 300 && chat.botMemberIds.has(ctx.runtime.bot.user.id)) return true;
  }
  return false;
}

const sendMessage: Handler = (ctx) => sendMessageTo(ctx, 'sendMessage');

function editTarget(ctx: CallContext) {
  if (ctx.params.inline_message_id !== undefined) throw Errors.messageToEditNotFound();
  const chat = chatParam(ctx);
  const stored = storedMessage(ctx, chat, Errors.messageToEditNotFound);
  if (stored.message.from?.id !== ctx.runtime.bot.user.id && stored.message.sender_chat?.id !== chat.chat.id)
    throw Errors.messageCantBeEdited();
  return stored;
}

const editMessageText: Handler = (ctx) => {
  const stored = editTarget(ctx);
  const text = textParam(ctx);
  const replyMarkup = replyMarkupParam(ctx);
  const message = stored.message;
  if (message.text === text && JSON.stringify(message.reply_markup) === JSON.stringify(replyMarkup))
    throw Errors.messageNotModified();
  message.text = text;
  // Telegram drops the inline keyboard when an edit does not repeat it.
  if (replyMarkup) message.reply_markup = replyMarkup;
  else delete message.reply_markup;
  message.edit_date = ctx.world.now();
  return message;
};

const editMessageReplyMarkup: Handler = (ctx) => {
  const stored = editTarget(ctx);
  const replyMarkup = replyMarkupParam(ctx);
  const message = stored.message;
  if (JSON.stringify(message.reply_markup) === JSON.stringify(replyMarkup)) throw Errors.messageNotModified();
  if (replyMarkup) message.reply_markup = replyMarkup;
  else delete message.reply_markup;
  message.edit_date = ctx.world.now();
  return message;
};

const deleteMessage: Handler = (ctx) => {
  const chat = chatParam(ctx);
  const stored = storedMessage(ctx, chat, Errors.messageToDeleteNotFound);
  const own = stored.message.from?.id === ctx.runtime.bot.user.id;
  if (!own && chat.chat.type !== 'private') {
    const me = botMember(ctx, chat);
    if (!World.hasRight(me, 'can_delete_messages')) throw Errors.messageCantBeDeleted();
  }
  stored.deleted = true;
  return true;
};

const answerCallbackQuery: Handler = (ctx) => {
  const id = optionalString(ctx.params, 'callback_query_id');
  const query = id === undefined ? undefined : ctx.world.callbackQueries.get(id);
  if (!query || query.answered || query.botId !== ctx.runtime.bot.user.id) throw Errors.queryTooOld();
  query.answered = true;
  query.answer = {};
  const text = optionalString(ctx.params, 'text');
  if (text !== undefined) query.answer.text = text;
  const showAlert = optionalBool(ctx.params, 'show_alert');
  if (showAlert !== undefined) query.answer.show_alert = showAlert;
  const url = optionalString(ctx.params, 'url');
  if (url !== undefined) query.answer.url = url;
  return true;
};

function joinRequestTarget(ctx: CallContext) {
  const chat = chatParam(ctx);
  const user = userParam(ctx);
  requireRight(ctx, chat, 'can_invite_users');
  if (World.isMember(ctx.world.member(chat, user.id))) throw Errors.userAlreadyParticipant();
  const request = chat.joinRequests.get(user.id);
  if (!request) throw Errors.hideRequesterMissing();
  return { chat, user, request };
}

const approveChatJoinRequest: Handler = (ctx) => {
  const { chat, user, request } = joinRequestTarget(ctx);
  ctx.world.removeJoinRequest(chat, user.id);
  ctx.world.changeMember(chat, user.id, World.entering(ctx.world.member(chat, user.id)), {
    actor: ctx.runtime.bot.user,
    viaJoinRequest: true,
    serviceMessage: true,
    ...(request.inviteLink ? { inviteLink: request.inviteLink } : {}),
  });
  return true;
};

const declineChatJoinRequest: Handler = (ctx) => {
  const { chat, user } = joinRequestTarget(ctx);
  ctx.world.removeJoinRequest(chat, user.id);
  return true;
};

const createChatInviteLink: Handler = (ctx) => {
  const chat = chatParam(ctx);
  requireRight(ctx, chat, 'can_invite_users');
  const createsJoinRequest = optionalBool(ctx.params, 'creates_join_request') ?? false;
  const memberLimit = optionalInt(ctx.params, 'member_limit');
  if (createsJoinRequest && memberLimit !== undefined)
    throw Errors.badRequest("member limit can't be specified for links requiring administrator approval");
  if (memberLimit !== undefined && (memberLimit < 1 || memberLimit > 99999))
    throw Errors.badRequest('MEMBER_LIMIT_INVALID');
  return ctx.world.newInviteLink(chat, ctx.runtime.bot.user, {
    creates_join_request: createsJoinRequest,
    ...(memberLimit !== undefined ? { member_limit: memberLimit } : {}),
    ...(optionalString(ctx.params, 'name') ? { name: optionalString(ctx.params, 'name')! } : {}),
    ...(optionalInt(ctx.params, 'expire_date') ? { expire_date: optionalInt(ctx.params, 'expire_date')! } : {}),
  });
};

const exportChatInviteLink: Handler = (ctx) => {
  const chat = chatParam(ctx);
  requireRight(ctx, chat, 'can_invite_users');
  return ctx.world.newInviteLink(chat, ctx.runtime.bot.user, { is_primary: true }).invite_link;
};

const setWebhook: Handler = (ctx) => {
  const url = optionalString(ctx.params, 'url') ?? '';
  if (url !== '' && !url.startsWith('https://'))
    throw Errors.badRequest('bad webhook: An HTTPS URL must be provided for webhook');
  ctx.runtime.bot.webhookUrl = url;
  ctx.runtime.updates.setAllowedUpdates(optionalJson<string[]>(ctx.params, 'allowed_updates'));
  if (optionalBool(ctx.params, 'drop_pending_updates')) ctx.runtime.updates.dropAll();
  return true;
};

const deleteWebhook: Handler = (ctx) => {
  ctx.runtime.bot.webhookUrl = '';
  if (optionalBool(ctx.params, 'drop_pending_updates')) ctx.runtime.updates.dropAll();
  return true;
};

const getWebhookInfo: Handler = (ctx) => {
  const info: Record<string, unknown> = {
    url: ctx.runtime.bot.webhookUrl,
    has_custom_certificate: false,
    pending_update_count: ctx.runtime.updates.pendingCount(),
  };
  if (ctx.runtime.bot.webhookUrl) {
    info.max_connections = 40;
    info.allowed_updates = ctx.runtime.updates.allowedUpdates();
  }
  return info;
};

const leaveChat: Handler = (ctx) => {
  const chat = chatParam(ctx);
  requireBotInChat(ctx, chat);
  ctx.world.changeMember(
    chat,
    ctx.runtime.bot.user.id,
    { status: 'left', untilDate: 0, isMember: false },
    { actor: ctx.runtime.bot.user, serviceMessage: true },
  );
  return true;
};

const setMyCommands: Handler = (ctx) => {
  const commands = optionalJson<unknown[]>(ctx.params, 'commands');
  if (!Array.isArray(commands)) throw Errors.badRequest("can't parse commands JSON array");
  ctx.runtime.bot.commands = commands;
  return true;
};

export const HANDLERS: Record<string, Handler> = {
  getMe,
  getUpdates,
  getChat,
  getChatMember,
  getChatAdministrators,
  getChatMemberCount,
  getChatMembersCount: getChatMemberCount,
  restrictChatMember,
  banChatMember,
  kickChatMember: banChatMember,
  unbanChatMember,
  banChatSenderChat,
  unbanChatSenderChat,
  sendMessage,
  editMessageText,
  editMessageReplyMarkup,
  deleteMessage,
  answerCallbackQuery,
  approveChatJoinRequest,
  declineChatJoinRequest,
  createChatInviteLink,
  exportChatInviteLink,
  setWebhook,
  deleteWebhook,
  getWebhookInfo,
  leaveChat,
  setMyCommands,
  getMyCommands: (ctx) => ctx.runtime.bot.commands,
  deleteMyCommands: (ctx) => {
    ctx.runtime.bot.commands = [];
    return true;
  },
  sendChatAction: (ctx) => {
    resolveSendTarget(ctx);
    return true;
  },
  logOut: () => true,
  close: () => true,
};

// The method table the HTTP side uses (with the Bot API 10.x additions) is findHandler in bot-api-10.ts.
