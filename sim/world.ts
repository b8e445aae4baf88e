// The simulated Telegram: bots, users, chats, memberships, messages, join requests, invite links.
// Every state change that Telegram would announce is turned into updates for the bots entitled to see it.
import { randomBytes } from 'node:crypto';
import { CallLog } from './call-log';
import { EphemeralStore } from './ephemeral';
import { FaultInjector, seededRandom } from './faults';
import { JoinQueryStore } from './join-queries';
import { DEFAULT_LIMITS, SendLimiter, type LimitSettings } from './limits';
import { adminRightsForOutput, defaultGroupPermissions, grantsEverything, normalizeAdminRights } from './permissions';
import type {
  AdminRights,
  BotRecord,
  ChatPermissions,
  ChatRecord,
  ChatType,
  MemberRecord,
  MemberStatus,
  TgChat,
  TgChatInviteLink,
  TgChatMember,
  TgMessage,
  TgUser,
} from './types';
import { BotUpdateQueue } from './updates';

/** Telegram's service accounts that appear as `from` of anonymous admin and linked-channel messages. */
export const GROUP_ANONYMOUS_BOT: TgUser = {
  id: 1087968824,
  is_bot: true,
  first_name: 'Group',
  username: 'GroupAnonymousBot',
};
export const TELEGRAM_SERVICE_USER: TgUser = { id: 777000, is_bot: false, first_name: 'Telegram' };
/**
 * The fake sender of a message written on behalf of a channel in a group (Bot API, Message.from: "if the
 * message was sent on behalf of a chat, the field contains a fake sender user in non-channel chats").
 */
export const CHANNEL_BOT: TgUser = { id: 136817688, is_bot: true, first_name: 'Channel', username: 'Channel_Bot' };

const TOKEN_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-';
export const TOKEN_PATTERN = /^(\d+):[A-Za-z0-9_-]{35}$/;

/** Everything the simulator keeps per bot besides its identity. */
export interface BotRuntime {
  bot: BotRecord;
  updates: BotUpdateQueue;
  limiter: SendLimiter;
  faults: FaultInjector;
  calls: CallLog;
}

export interface CallbackQueryRecord {
  id: string;
  botId: number;
  fromId: number;
  createdAtMs: number;
  answered: boolean;
  answer?: { text?: string; show_alert?: boolean; url?: string; cache_time?: number };
  /** the pressed message (an ephemeral one has messageId 0 and its ephemeralMessageId) */
  origin?: { chatId: number; messageId: number; ephemeralMessageId?: number };
}

export interface MemberChangeContext {
  actor: TgUser;
  inviteLink?: TgChatInviteLink;
  viaJoinRequest?: boolean;
  /** post the group service message (new_chat_members / left_chat_member) */
  serviceMessage?: boolean;
}

export interface WorldOptions {
  limits?: Partial<LimitSettings>;
  /** seed for probabilistic faults */
  seed?: number;
  callLogCapacity?: number;
}

export class World {
  readonly botsByToken = new Map<string, BotRuntime>();
  readonly botsById = new Map<number, BotRuntime>();
  readonly users = new Map<number, TgUser>();
  readonly chats = new Map<number, ChatRecord>();
  readonly chatsByUsername = new Map<string, ChatRecord>();
  readonly callbackQueries = new Map<string, CallbackQueryRecord>();
  /** userId -> chats where that user has a pending join request (lets sendMessage check without a scan) */
  private readonly joinRequestIndex = new Map<number, Set<number>>();
  /** guard bots and their join-request queries (Bot API 10.1) */
  readonly joinQueries = new JoinQueryStore();
  /** messages only one user sees (Bot API 10.2) */
  readonly ephemeral = new EphemeralStore();
  private nextUserId = 100_000_001;
  private nextBotId = 7_000_000_001;
  private nextGroupSeq = 4_000_001;
  private nextChannelSeq = 1_000_000_001;
  private nextCallbackSeq = 1;
  /** added to Date.now() for Telegram dates, so tests can let restrictions expire without sleeping */
  clockOffsetMs = 0;
  private random: () => number;

  constructor(readonly options: WorldOptions = {}) {
    this.random = seededRandom(options.seed ?? 42);
    this.registerServiceUsers();
  }

  reset(): void {
    // Answer pending long polls now rather than leaving them attached to bots that no longer exist.
    for (const runtime of this.botsById.values()) runtime.updates.wakeAll();
    this.botsByToken.clear();
    this.botsById.clear();
    this.users.clear();
    this.chats.clear();
    this.chatsByUsername.clear();
    this.callbackQueries.clear();
    this.joinRequestIndex.clear();
    this.joinQueries.clear();
    this.ephemeral.clear();
    this.clockOffsetMs = 0;
    this.nextUserId = 100_000_001;
    this.nextBotId = 7_000_000_001;
    this.nextGroupSeq = 4_000_001;
    this.nextChannelSeq = 1_000_000_001;
    this.random = seededRandom(this.options.seed ?? 42);
    this.registerServiceUsers();
  }

  private registerServiceUsers(): void {
    this.users.set(GROUP_ANONYMOUS_BOT.id, GROUP_ANONYMOUS_BOT);
    this.users.set(TELEGRAM_SERVICE_USER.id, TELEGRAM_SERVICE_USER);
    this.users.set(CHANNEL_BOT.id, CHANNEL_BOT);
  }

  /** Telegram time: unix seconds. */
  now(): number {
    return Math.floor((Date.now() + this.clockOffsetMs) / 1000);
  }

  // ---------- entities ----------

  createBot(
    input: {
      id?: number;
      username?: string;
      firstName?: string;
      token?: string;
      canReadAllGroupMessages?: boolean;
      allowedUpdates?: string[];
      limits?: Partial<LimitSettings>;
    } = {},
  ): BotRuntime {
    let id = input.id;
    if (id === undefined) {
      while (this.users.has(this.nextBotId)) this.nextBotId++;
      id = this.nextBotId++;
    }
    let token = input.token;
    if (token !== undefined) {
      const match = TOKEN_PATTERN.exec(token);
      if (!match) throw new Error('token must look like <digits>:<35 chars of [A-Za-z0-9_-]>');
      id = Number(match[1]);
    } else {
      const bytes = randomBytes(35);
      token = `${id}:${Array.from(bytes, (b) => TOKEN_ALPHABET[b & 63]).join('')}`;
    }
    if (this.botsById.has(id) || this.users.has(id)) throw new Error(`id ${id} is taken`);
    const username = input.username ?? `sim_${id}_bot`;
    const user: TgUser = { id, is_bot: true, first_name: input.firstName ?? username, username };
    const bot: BotRecord = {
      user,
      token,
      revoked: false,
      canReadAllGroupMessages: input.canReadAllGroupMessages ?? false,
      webhookUrl: '',
      commands: [],
      startedUserIds: new Set(),
    };
    const runtime: BotRuntime = {
      bot,
      updates: new BotUpdateQueue(),
      limiter: new SendLimiter({ ...DEFAULT_LIMITS, ...this.options.limits, ...input.limits }),
      faults: new FaultInjector(this.random),
      calls: new CallLog(this.options.callLogCapacity),
    };
    runtime.updates.setAllowedUpdates(input.allowedUpdates);
    this.users.set(id, user);
    this.botsById.set(id, runtime);
    this.botsByToken.set(token, runtime);
    return runtime;
  }

  createUser(
    input: { id?: number; firstName?: string; lastName?: string; username?: string; languageCode?: string } = {},
  ): TgUser {
    let id = input.id;
    if (id === undefined) {
      while (this.users.has(this.nextUserId)) this.nextUserId++;
      id = this.nextUserId++;
    }
    if (this.users.has(id)) throw new Error(`user ${id} exists`);
    const user: TgUser = { id, is_bot: false, first_name: input.firstName ?? `User${id}` };
    if (input.lastName) user.last_name = input.lastName;
    if (input.username) user.username = input.username;
    if (input.languageCode) user.language_code = input.languageCode;
    this.users.set(id, user);
    return user;
  }

  createChat(input: {
    type: Exclude<ChatType, 'private'>;
    title?: string;
    username?: string;
    id?: number;
    ownerId?: number;
    linkedChatId?: number;
    permissions?: ChatPermissions;
    isForum?: boolean;
    joinByRequest?: boolean;
    description?: string;
  }): ChatRecord {
    const id =
      input.id ?? (input.type === 'group' ? -this.nextGroupSeq++ : -(1_000_000_000_000 + this.nextChannelSeq++));
    if (this.chats.has(id)) throw new Error(`chat ${id} exists`);
    const chat: TgChat = { id, type: input.type, title: input.title ?? `Chat ${id}` };
    if (input.username) {
      if (this.chatsByUsername.has(input.username.toLowerCase()))
        throw new Error(`username ${input.username} is taken`);
      chat.username = input.username;
    }
    if (input.isForum && input.type === 'supergroup') chat.is_forum = true;
    const record: ChatRecord = {
      chat,
      permissions: input.permissions ?? defaultGroupPermissions(),
      joinByRequest: input.joinByRequest ?? false,
      chatInstance: String(BigInt.asIntN(64, BigInt(id) * 2654435761n + 1234567n)),
      inviteLinks: new Map(),
      members: new Map(),
      adminIds: new Set(),
      botMemberIds: new Set(),
      memberCount: 0,
      messages: new Map(),
      nextMessageId: 1,
      joinRequests: new Map(),
      bannedSenderChats: new Set(),
    };
    if (input.description) record.description = input.description;
    this.chats.set(id, record);
    if (chat.username) this.chatsByUsername.set(chat.username.toLowerCase(), record);
    if (input.linkedChatId !== undefined) this.linkChats(record, input.linkedChatId);
    if (input.ownerId !== undefined) {
      this.requireUser(input.ownerId);
      this.writeMember(record, input.ownerId, { status: 'creator', untilDate: 0, isMember: true, isAnonymous: false });
    }
    return record;
  }

  /** Discussion group <-> channel link, both ways as Telegram shows it in getChat. */
  linkChats(record: ChatRecord, otherId: number): void {
    const other = this.chats.get(otherId);
    if (!other) throw new Error(`linked chat ${otherId} not found`);
    record.linkedChatId = otherId;
    other.linkedChatId = record.chat.id;
  }

  requireUser(id: number): TgUser {
    const user = this.users.get(id);
    if (!user) throw new Error(`user ${id} not found`);
    return user;
  }

  requireChat(id: number): ChatRecord {
    const chat = this.chats.get(id);
    if (!chat) throw new Error(`chat ${id} not found`);
    return chat;
  }

  /** Resolves a Bot API chat_id: a number or "@username". */
  resolveChat(chatId: number | string): ChatRecord | undefined {
    if (typeof chatId === 'number') return this.chats.get(chatId);
    if (chatId.startsWith('@')) return this.chatsByUsername.get(chatId.slice(1).toLowerCase());
    const asNumber = Number(chatId);
    return Number.isSafeInteger(asNumber) ? this.chats.get(asNumber) : undefined;
  }

  // ---------- membership ----------

  /** The member's current record, applying expired restrictions and bans first (as Telegram does on read). */
  member(chat: ChatRecord, userId: number): MemberRecord {
    const record = chat.members.get(userId);
    if (!record) return LEFT;
    if (
      (record.status === 'restricted' || record.status === 'kicked') &&
      record.untilDate > 0 &&
      record.untilDate <= this.now()
    ) {
      const next: MemberRecord =
        record.status === 'restricted' && record.isMember ? { status: 'member', untilDate: 0, isMember: true } : LEFT;
      this.writeMember(chat, userId, next);
      return next;
    }
    return record;
  }

  static isMember(record: MemberRecord): boolean {
    return (
      record.status === 'creator' ||
      record.status === 'administrator' ||
      record.status === 'member' ||
      (record.status === 'restricted' && record.isMember)
    );
  }

  /**
   * A restriction as Telegram keeps it: only one that grants every permission is no restriction at all, and
   * then the user is a plain member, or has left when they are not in the chat (TDLib,
   * DialogParticipantStatus::Restricted in td/telegram/DialogParticipant.cpp). Permissions equal to the
   * chat's defaults leave the user `restricted`.
   */
  static restriction(permissions: ChatPermissions, untilDate: number, isMember: boolean): MemberRecord {
    if (grantsEverything(permissions)) return isMember ? { status: 'member', untilDate: 0, isMember: true } : LEFT;
    return { status: 'restricted', untilDate, isMember, permissions };
  }

  /**
   * The record of someone who comes (back) into the chat by joining, being added or having their join request
   * approved: a restricted user keeps the restriction, now with is_member true (Bot API ChatMemberRestricted
   * carries is_member for exactly this: a restriction outlives the membership). Anyone else is a plain member.
   */
  static entering(current: MemberRecord): MemberRecord {
    return current.status === 'restricted'
      ? { ...current, isMember: true }
      : { status: 'member', untilDate: 0, isMember: true };
  }

  static isAdmin(record: MemberRecord): boolean {
    return record.status === 'creator' || record.status === 'administrator';
  }

  /** A bot's right in a chat; the creator has every right. */
  static hasRight(record: MemberRecord, right: keyof AdminRights): boolean {
    if (record.status === 'creator') return true;
    return record.status === 'administrator' && record.rights?.[right] === true;
  }

  /** Low-level write keeping the indexes (count, admins, bot members) in step. No updates emitted. */
  writeMember(chat: ChatRecord, userId: number, next: MemberRecord): void {
    const before = chat.members.get(userId) ?? LEFT;
    if (World.isMember(before)) chat.memberCount--;
    if (World.isMember(next)) chat.memberCount++;
    if (next.status === 'left') chat.members.delete(userId);
    else chat.members.set(userId, next);
    if (World.isAdmin(next)) chat.adminIds.add(userId);
    else chat.adminIds.delete(userId);
    if (this.botsById.has(userId)) {
      if (World.isMember(next)) chat.botMemberIds.add(userId);
      else chat.botMemberIds.delete(userId);
    }
  }

  toChatMember(chat: ChatRecord, userId: number, record: MemberRecord): TgChatMember {
    const user = this.users.get(userId) ?? { id: userId, is_bot: false, first_name: `User${userId}` };
    switch (record.status) {
      case 'creator': {
        const out: TgChatMember = { status: 'creator', user, is_anonymous: record.isAnonymous ?? false };
        if (record.customTitle) out.custom_title = record.customTitle;
        return out;
      }
      case 'administrator': {
        const rights = adminRightsForOutput(record.rights ?? normalizeAdminRights({}, chat.chat.type), chat.chat.type);
        return {
          status: 'administrator',
          user,
          can_be_edited: false,
          ...(rights as AdminRights),
          ...(record.customTitle ? { custom_title: record.customTitle } : {}),
        };
      }
      case 'member':
        return { status: 'member', user };
      case 'restricted':
        return {
          status: 'restricted',
          user,
          is_member: record.isMember,
          until_date: record.untilDate,
          ...record.permissions!,
        };
      case 'kicked':
        return { status: 'kicked', user, until_date: record.untilDate };
      case 'left':
        return { status: 'left', user };
    }
  }

  /**
   * Changes a member and announces it like Telegram: my_chat_member to the bot whose status changed,
   * chat_member to admin bots of the chat, and (groups, if asked) the new_chat_members / left_chat_member message.
   */
  changeMember(chat: ChatRecord, userId: number, next: MemberRecord, context: MemberChangeContext): void {
    const before = this.member(chat, userId);
    const oldMember = this.toChatMember(chat, userId, before);
    const wasMember = World.isMember(before);
    this.writeMember(chat, userId, next);
    const newMember = this.toChatMember(chat, userId, next);
    if (JSON.stringify(oldMember) === JSON.stringify(newMember)) return;
    const date = this.now();
    const base = { chat: chat.chat, from: context.actor, date, old_chat_member: oldMember, new_chat_member: newMember };
    const event = {
      ...base,
      ...(context.inviteLink ? { invite_link: context.inviteLink } : {}),
      ...(context.viaJoinRequest ? { via_join_request: true } : {}),
    };
    const subject = this.botsById.get(userId);
    if (subject) subject.updates.enqueue('my_chat_member', event);
    for (const adminId of chat.adminIds) {
      if (adminId === userId) continue;
      const bot = this.botsById.get(adminId);
      if (bot) bot.updates.enqueue('chat_member', event);
    }
    if (context.serviceMessage && chat.chat.type !== 'channel') {
      const isMemberNow = World.isMember(next);
      const user = this.users.get(userId)!;
      if (!wasMember && isMemberNow) this.postMessage(chat, { from: context.actor, new_chat_members: [user] });
      else if (wasMember && !isMemberNow) this.postMessage(chat, { from: context.actor, left_chat_member: user });
    }
  }

  // ---------- migration ----------

  /**
   * Upgrades a basic group to a supergroup as Telegram does: a new chat with a new id, the same settings and
   * members, and the old id answering Bot API calls with migrate_to_chat_id. Only the two service messages
   * announce it (no chat_member / my_chat_member updates). Messages, invite links and join requests stay behind.
   */
  migrateToSupergroup(chatId: number, actorId?: number): ChatRecord {
    const group = this.requireChat(chatId);
    if (group.chat.type !== 'group')
      throw new Error(`only a basic group can be upgraded; chat ${chatId} is a ${group.chat.type}`);
    if (group.migratedToChatId !== undefined)
      throw new Error(`chat ${chatId} was already upgraded to ${group.migratedToChatId}`);
    const actor = actorId !== undefined ? this.requireUser(actorId) : this.creatorOf(group);
    // The username belongs to the supergroup from now on, so "@name" resolves to it.
    if (group.chat.username) this.chatsByUsername.delete(group.chat.username.toLowerCase());
    const supergroup = this.createChat({
      type: 'supergroup',
      title: group.chat.title,
      username: group.chat.username,
      permissions: { ...group.permissions },
      description: group.description,
      joinByRequest: group.joinByRequest,
      linkedChatId: group.linkedChatId,
    });
    // Records are replaced on every change, never mutated, so sharing them is safe; writeMember keeps the
    // count, admin and bot indexes, which makes the bots members before the service message below.
    for (const [userId, record] of group.members) this.writeMember(supergroup, userId, { ...record });
    group.migratedToChatId = supergroup.chat.id;
    this.postMessage(group, { from: actor, migrate_to_chat_id: supergroup.chat.id });
    this.postMessage(supergroup, { from: actor, migrate_from_chat_id: group.chat.id });
    return supergroup;
  }

  private creatorOf(chat: ChatRecord): TgUser {
    for (const id of chat.adminIds) if (chat.members.get(id)?.status === 'creator') return this.requireUser(id);
    throw new Error(`chat ${chat.chat.id} has no creator; pass actorId`);
  }

  // ---------- messages ----------

  /** Stores a message in the chat and delivers it to the bots that would see it. */
  postMessage(
    chat: ChatRecord,
    fields: Omit<TgMessage, 'message_id' | 'date' | 'chat'>,
    options: { exceptBotId?: number } = {},
  ): TgMessage {
    const message: TgMessage = {
      message_id: chat.nextMessageId++,
      ...fieldsWithoutUndefined(fields),
      date: this.now(),
      chat: chat.chat,
    };
    chat.messages.set(message.message_id, { message, deleted: false });
    this.deliverMessage(chat, message, options.exceptBotId);
    return message;
  }

  private deliverMessage(chat: ChatRecord, message: TgMessage, exceptBotId?: number): void {
    if (chat.chat.type === 'private') return; // private chats are handled by sendPrivateMessage
    const isService =
      message.new_chat_members !== undefined ||
      message.left_chat_member !== undefined ||
      message.migrate_to_chat_id !== undefined ||
      message.migrate_from_chat_id !== undefined;
    const isCommand = typeof message.text === 'string' && message.text.startsWith('/');
    // GroupAnonymousBot and Channel_Bot only stand in for a chat that wrote (sender_chat): not bots writing.
    const fromBot = message.from?.is_bot === true && message.sender_chat === undefined;
    for (const botId of chat.botMemberIds) {
      if (botId === exceptBotId) continue;
      const runtime = this.botsById.get(botId)!;
      if (chat.chat.type === 'channel') {
        if (World.isAdmin(this.member(chat, botId))) runtime.updates.enqueue('channel_post', message);
        continue;
      }
      // Bots never see other bots' messages; the service message about adding a bot is the exception.
      if (fromBot && !isService) continue;
      const privacyAllows =
        runtime.bot.canReadAllGroupMessages ||
        isService ||
        isCommand ||
        message.reply_to_message?.from?.id === botId ||
        World.isAdmin(this.member(chat, botId));
      if (privacyAllows) runtime.updates.enqueue('message', message);
    }
  }

  /** A user writes to a bot in private: opens the chat (the bot may answer from now on). */
  sendPrivateMessage(runtime: BotRuntime, user: TgUser, text: string): TgMessage {
    runtime.bot.startedUserIds.add(user.id);
    const chat = this.privateChatRecord(user);
    const message: TgMessage = {
      message_id: chat.nextMessageId++,
      from: user,
      chat: chat.chat,
      date: this.now(),
      text,
    };
    if (text.startsWith('/'))
      (message as Record<string, unknown>).entities = [
        { type: 'bot_command', offset: 0, length: text.split(/\s/)[0]!.length },
      ];
    chat.messages.set(message.message_id, { message, deleted: false });
    runtime.updates.enqueue('message', message);
    return message;
  }

  /** Private chats are stored like other chats (id = user id) so messages and buttons work the same way. */
  privateChatRecord(user: TgUser): ChatRecord {
    let chat = this.chats.get(user.id);
    if (!chat) {
      const tgChat: TgChat = { id: user.id, type: 'private', first_name: user.first_name };
      if (user.last_name) tgChat.last_name = user.last_name;
      if (user.username) tgChat.username = user.username;
      chat = {
        chat: tgChat,
        permissions: defaultGroupPermissions(),
        joinByRequest: false,
        chatInstance: String(BigInt.asIntN(64, BigInt(user.id) * 2654435761n + 7654321n)),
        inviteLinks: new Map(),
        members: new Map(),
        adminIds: new Set(),
        botMemberIds: new Set(),
        memberCount: 0,
        messages: new Map(),
        nextMessageId: 1,
        joinRequests: new Map(),
        bannedSenderChats: new Set(),
      };
      this.chats.set(user.id, chat);
    }
    return chat;
  }

  /** Telegram auto-forwards channel posts into the linked discussion group, from the channel. */
  forwardToDiscussionGroup(channel: ChatRecord, post: TgMessage): TgMessage | undefined {
    if (channel.linkedChatId === undefined) return undefined;
    const group = this.chats.get(channel.linkedChatId);
    if (!group) return undefined;
    const fields: Omit<TgMessage, 'message_id' | 'date' | 'chat'> = {
      from: TELEGRAM_SERVICE_USER,
      sender_chat: channel.chat,
      is_automatic_forward: true,
      forward_origin: { type: 'channel', chat: channel.chat, message_id: post.message_id, date: post.date },
    };
    if (post.text !== undefined) fields.text = post.text;
    return this.postMessage(group, fields);
  }

  // ---------- join requests ----------

  addJoinRequest(chat: ChatRecord, userId: number, request: { bio?: string; inviteLink?: TgChatInviteLink }): void {
    chat.joinRequests.set(userId, { date: this.now(), ...request });
    let chats = this.joinRequestIndex.get(userId);
    if (!chats) this.joinRequestIndex.set(userId, (chats = new Set()));
    chats.add(chat.chat.id);
  }

  removeJoinRequest(chat: ChatRecord, userId: number): void {
    chat.joinRequests.delete(userId);
    this.joinRequestIndex.get(userId)?.delete(chat.chat.id);
  }

  joinRequestChatsOf(userId: number): Iterable<number> {
    return this.joinRequestIndex.get(userId) ?? [];
  }

  // ---------- callback queries ----------

  newCallbackQuery(botId: number, fromId: number): CallbackQueryRecord {
    const id = `${BigInt(fromId) * 1000n + BigInt(this.nextCallbackSeq++)}`;
    const record: CallbackQueryRecord = { id, botId, fromId, createdAtMs: Date.now(), answered: false };
    this.callbackQueries.set(id, record);
    return record;
  }

  // ---------- invite links ----------

  newInviteLink(
    chat: ChatRecord,
    creator: TgUser,
    options: {
      name?: string;
      expire_date?: number;
      member_limit?: number;
      creates_join_request?: boolean;
      is_primary?: boolean;
    },
  ): TgChatInviteLink {
    const code = randomBytes(12).toString('base64url');
    const link: TgChatInviteLink = {
      invite_link: `https://t.me/+${code}`,
      creator,
      creates_join_request: options.creates_join_request ?? false,
      is_primary: options.is_primary ?? false,
      is_revoked: false,
    };
    if (options.name) link.name = options.name;
    if (options.expire_date) link.expire_date = options.expire_date;
    if (options.member_limit) link.member_limit = options.member_limit;
    chat.inviteLinks.set(link.invite_link, link);
    if (link.is_primary) {
      if (chat.primaryInviteLink) chat.primaryInviteLink.is_revoked = true;
      chat.primaryInviteLink = link;
    }
    return link;
  }
}

const LEFT: MemberRecord = Object.freeze({ status: 'left' as MemberStatus, untilDate: 0, isMember: false });

function fieldsWithoutUndefined<T extends object>(fields: T): T {
  const out = {} as T;
  for (const key of Object.keys(fields) as (keyof T)[]) if (fields[key] !== undefined) out[key] = fields[key];
  return out;
}
