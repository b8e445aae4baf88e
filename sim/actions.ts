// What people do in the simulated Telegram (driven through the control API): join, leave, ask to join,
// press buttons, write messages, post in channels, and admins changing someone's status.
import { normalizeAdminRights, normalizePermissions } from './permissions';
import type { ChatRecord, MemberRecord, MemberStatus, TgChatInviteLink, TgMessage, TgUser } from './types';
import { CHANNEL_BOT, GROUP_ANONYMOUS_BOT, World } from './world';

/** A control-API error: the caller asked for something impossible in this world. */
export class SimError extends Error {
  constructor(
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

function chatOf(world: World, chatId: number): ChatRecord {
  const chat = world.chats.get(chatId);
  if (!chat || chat.chat.type === 'private') throw new SimError(`chat ${chatId} not found`, 404);
  return chat;
}

function userOf(world: World, userId: number): TgUser {
  const user = world.users.get(userId);
  if (!user) throw new SimError(`user ${userId} not found`, 404);
  return user;
}

function ownerOrSelf(world: World, chat: ChatRecord, fallback: TgUser): TgUser {
  for (const id of chat.adminIds) if (chat.members.get(id)?.status === 'creator') return world.users.get(id)!;
  return fallback;
}

function inviteLinkOf(chat: ChatRecord, link: string | undefined): TgChatInviteLink | undefined {
  if (link === undefined) return undefined;
  const found = chat.inviteLinks.get(link);
  if (!found || found.is_revoked) throw new SimError(`invite link ${link} is not valid for chat ${chat.chat.id}`);
  return found;
}

export type JoinOutcome = 'joined' | 'requested' | 'already_member';

/**
 * A user joins (or, with actorId, is added by an admin). Through a link that creates join requests,
 * or a chat with join_by_request, a self-join becomes a join request instead.
 */
export function join(
  world: World,
  chatId: number,
  userId: number,
  options: { actorId?: number; inviteLink?: string } = {},
): JoinOutcome {
  const chat = chatOf(world, chatId);
  const user = userOf(world, userId);
  const current = world.member(chat, userId);
  if (World.isMember(current)) return 'already_member';
  if (current.status === 'kicked') throw new SimError(`user ${userId} is banned in chat ${chatId}`, 409);
  const link = inviteLinkOf(chat, options.inviteLink);
  const actor = options.actorId !== undefined ? userOf(world, options.actorId) : user;
  if (actor.id === user.id && (link?.creates_join_request || (chat.joinByRequest && !link))) {
    requestJoin(world, chatId, userId, link ? { inviteLink: link.invite_link } : {});
    return 'requested';
  }
  // A user who was restricted while outside the chat keeps the restriction when they come back.
  world.changeMember(chat, userId, World.entering(current), {
    actor,
    serviceMessage: true,
    ...(link ? { inviteLink: link } : {}),
  });
  return 'joined';
}

/** Bulk joins for load set-up: no service messages and no updates, just state. */
export function joinSilently(world: World, chatId: number, userIds: number[]): number {
  const chat = chatOf(world, chatId);
  let joined = 0;
  for (const userId of userIds) {
    userOf(world, userId);
    if (World.isMember(world.member(chat, userId))) continue;
    world.writeMember(chat, userId, { status: 'member', untilDate: 0, isMember: true });
    joined++;
  }
  return joined;
}

/** The user leaves (or, with actorId, is removed by that admin without a ban). */
export function leave(world: World, chatId: number, userId: number, options: { actorId?: number } = {}): void {
  const chat = chatOf(world, chatId);
  const user = userOf(world, userId);
  const current = world.member(chat, userId);
  if (current.status === 'creator') throw new SimError('the creator cannot leave in this simulator');
  if (!World.isMember(current)) return;
  const actor = options.actorId !== undefined ? userOf(world, options.actorId) : user;
  // A restricted user who leaves stays restricted (is_member false), as in Telegram.
  const next: MemberRecord =
    current.status === 'restricted'
      ? { ...current, isMember: false }
      : { status: 'left', untilDate: 0, isMember: false };
  world.changeMember(chat, userId, next, { actor, serviceMessage: true });
}

export function requestJoin(
  world: World,
  chatId: number,
  userId: number,
  options: { inviteLink?: string; bio?: string } = {},
): void {
  const chat = chatOf(world, chatId);
  const user = userOf(world, userId);
  const current = world.member(chat, userId);
  if (World.isMember(current)) throw new SimError(`user ${userId} is already a member`, 409);
  if (current.status === 'kicked') throw new SimError(`user ${userId} is banned in chat ${chatId}`, 409);
  const link = inviteLinkOf(chat, options.inviteLink);
  world.addJoinRequest(chat, userId, {
    ...(options.bio ? { bio: options.bio } : {}),
    ...(link ? { inviteLink: link } : {}),
  });
  const event = {
    chat: chat.chat,
    from: user,
    user_chat_id: user.id,
    date: world.now(),
    ...(options.bio ? { bio: options.bio } : {}),
    ...(link ? { invite_link: link } : {}),
  };
  // Only admin bots that may invite users hear about join requests; the chat's guard bot's copy carries query_id.
  const query = world.joinQueries.open(world, chat, userId);
  for (const adminId of chat.adminIds) {
    const bot = world.botsById.get(adminId);
    if (!bot || !World.hasRight(world.member(chat, adminId), 'can_invite_users')) continue;
    bot.updates.enqueue('chat_join_request', query?.botId === adminId ? { ...event, query_id: query.id } : event);
  }
}

/** A human admin approves or declines a pending request. */
export function resolveJoinRequest(
  world: World,
  chatId: number,
  userId: number,
  approve: boolean,
  actorId?: number,
): void {
  const chat = chatOf(world, chatId);
  const request = chat.joinRequests.get(userId);
  if (!request) throw new SimError(`no pending join request from ${userId}`, 404);
  world.removeJoinRequest(chat, userId);
  if (!approve) return;
  const actor = actorId !== undefined ? userOf(world, actorId) : ownerOrSelf(world, chat, userOf(world, userId));
  // Approval lets the user in; it does not lift a restriction they still have there.
  world.changeMember(chat, userId, World.entering(world.member(chat, userId)), {
    actor,
    viaJoinRequest: true,
    serviceMessage: true,
    ...(request.inviteLink ? { inviteLink: request.inviteLink } : {}),
  });
}

export interface SetMemberInput {
  status: MemberStatus;
  rights?: Record<string, unknown>;
  permissions?: Record<string, unknown>;
  untilDate?: number;
  isMember?: boolean;
  isAnonymous?: boolean;
  customTitle?: string;
  actorId?: number;
  /** skip the new_chat_members / left_chat_member service message */
  silent?: boolean;
}

/** Sets anyone's status directly (promoting the bot, making a user admin, banning by hand …). */
export function setMember(world: World, chatId: number, userId: number, input: SetMemberInput): void {
  const chat = chatOf(world, chatId);
  const user = userOf(world, userId);
  let next: MemberRecord;
  switch (input.status) {
    case 'creator':
      next = { status: 'creator', untilDate: 0, isMember: true, isAnonymous: input.isAnonymous ?? false };
      break;
    case 'administrator':
      next = {
        status: 'administrator',
        untilDate: 0,
        isMember: true,
        rights: normalizeAdminRights(
          { ...input.rights, is_anonymous: input.isAnonymous ?? input.rights?.is_anonymous },
          chat.chat.type,
        ),
      };
      break;
    case 'restricted':
      // An admin's restriction follows the same rule as a bot's: all permissions granted is no restriction.
      next = {
        ...World.restriction(
          normalizePermissions(input.permissions ?? {}, true),
          input.untilDate ?? 0,
          input.isMember ?? true,
        ),
      };
      break;
    case 'kicked':
      next = { status: 'kicked', untilDate: input.untilDate ?? 0, isMember: false };
      break;
    default:
      next = { status: input.status, untilDate: 0, isMember: input.status === 'member' };
  }
  if (input.customTitle) next.customTitle = input.customTitle;
  const actor = input.actorId !== undefined ? userOf(world, input.actorId) : ownerOrSelf(world, chat, user);
  world.changeMember(chat, userId, next, { actor, serviceMessage: !input.silent });
}

export interface UserMessageInput {
  fromId?: number;
  text: string;
  /** forum topic */
  messageThreadId?: number;
  replyToMessageId?: number;
  /** an anonymous admin writes: from = GroupAnonymousBot, sender_chat = the group */
  anonymousAdmin?: boolean;
  /** a user writing on behalf of one of their channels */
  senderChatId?: number;
}

/**
 * A user writes in a group, as Telegram lets them: they must be in it, and may write as themselves only while
 * they may send messages (a muted user's client cannot send). On behalf of a channel they own or run, the
 * message carries the channel as `sender_chat` and Channel_Bot as `from` (Bot API, Message.from); the channel
 * writes with the group's default permissions, whatever the user's own restriction, unless the group banned
 * it with banChatSenderChat.
 */
export function userMessage(world: World, chatId: number, input: UserMessageInput): TgMessage {
  const chat = chatOf(world, chatId);
  if (chat.chat.type === 'channel') throw new SimError('use the channel post endpoint for channels');
  const fields: Omit<TgMessage, 'message_id' | 'date' | 'chat'> = { text: input.text };
  if (input.anonymousAdmin) {
    fields.from = GROUP_ANONYMOUS_BOT;
    fields.sender_chat = chat.chat;
  } else {
    if (input.fromId === undefined) throw new SimError('fromId is required unless anonymousAdmin');
    const user = userOf(world, input.fromId);
    const member = world.member(chat, user.id);
    if (!World.isMember(member)) throw new SimError(`user ${user.id} is not in chat ${chatId}`, 403);
    if (input.senderChatId !== undefined) {
      const channel = chatOf(world, input.senderChatId);
      if (channel.chat.type !== 'channel') throw new SimError(`chat ${input.senderChatId} is not a channel`);
      if (!World.isAdmin(world.member(channel, user.id)))
        throw new SimError(`user ${user.id} cannot write on behalf of channel ${channel.chat.id}`, 403);
      if (chat.bannedSenderChats.has(channel.chat.id))
        throw new SimError(`channel ${channel.chat.id} is banned in chat ${chatId}`, 403);
      if (!chat.permissions.can_send_messages) throw new SimError(`channels may not write in chat ${chatId}`, 403);
      fields.from = CHANNEL_BOT;
      fields.sender_chat = channel.chat;
    } else {
      if (!mayWrite(chat, member)) throw new SimError(`user ${user.id} may not send messages in chat ${chatId}`, 403);
      fields.from = user;
    }
  }
  if (input.messageThreadId !== undefined && chat.chat.is_forum) {
    fields.message_thread_id = input.messageThreadId;
    fields.is_topic_message = true;
  }
  if (input.replyToMessageId !== undefined) {
    const replied = chat.messages.get(input.replyToMessageId);
    if (!replied || replied.deleted) throw new SimError(`message ${input.replyToMessageId} not found`, 404);
    fields.reply_to_message = replied.message;
  }
  if (input.text.startsWith('/'))
    fields.entities = [{ type: 'bot_command', offset: 0, length: input.text.split(/\s/)[0]!.length }];
  return world.postMessage(chat, fields);
}

/** Admins may always write; a member as the chat's defaults allow; a restricted member as both allow. */
function mayWrite(chat: ChatRecord, member: MemberRecord): boolean {
  if (World.isAdmin(member)) return true;
  if (member.status === 'restricted')
    return member.permissions!.can_send_messages && chat.permissions.can_send_messages;
  return chat.permissions.can_send_messages;
}

export function channelPost(world: World, chatId: number, text: string): { post: TgMessage; forwarded?: TgMessage } {
  const chat = chatOf(world, chatId);
  if (chat.chat.type !== 'channel') throw new SimError(`chat ${chatId} is not a channel`);
  const post = world.postMessage(chat, { sender_chat: chat.chat, text });
  const forwarded = world.forwardToDiscussionGroup(chat, post);
  return forwarded ? { post, forwarded } : { post };
}

export function privateMessage(world: World, botId: number, userId: number, text: string): TgMessage {
  const runtime = world.botsById.get(botId);
  if (!runtime) throw new SimError(`bot ${botId} not found`, 404);
  return world.sendPrivateMessage(runtime, userOf(world, userId), text);
}

/** A user presses an inline button: the bot that sent the message gets a callback_query. */
export function pressButton(
  world: World,
  chatId: number,
  messageId: number,
  userId: number,
  data: string,
): { callbackQueryId: string } {
  const chat = world.chats.get(chatId);
  if (!chat) throw new SimError(`chat ${chatId} not found`, 404);
  const user = userOf(world, userId);
  const stored = chat.messages.get(messageId);
  if (!stored || stored.deleted) throw new SimError(`message ${messageId} not found in chat ${chatId}`, 404);
  const hasButton = stored.message.reply_markup?.inline_keyboard.some((row) =>
    row.some((b) => b.callback_data === data),
  );
  if (!hasButton) throw new SimError(`message ${messageId} has no button with callback_data ${JSON.stringify(data)}`);
  const botId = stored.message.from?.id;
  const runtime = botId === undefined ? undefined : world.botsById.get(botId);
  if (!runtime) throw new SimError(`message ${messageId} was not sent by a simulated bot`);
  const query = world.newCallbackQuery(runtime.bot.user.id, user.id);
  query.origin = { chatId: chat.chat.id, messageId };
  runtime.updates.enqueue('callback_query', {
    id: query.id,
    from: user,
    message: stored.message,
    chat_instance: chat.chatInstance,
    data,
  });
  return { callbackQueryId: query.id };
}
