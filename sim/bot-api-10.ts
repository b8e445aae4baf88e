// Bot API 10.x methods layered over the base handlers of bot-api.ts: guard bots' join-request queries
// (answerChatJoinRequestQuery, sendChatJoinRequestWebApp, getMe.supports_join_request_queries, getChat.guard_bot)
// and ephemeral messages (sendMessage with ephemeral parameters, editEphemeralMessageText,
// editEphemeralMessageReplyMarkup, deleteEphemeralMessage). Rules and sources: join-queries.ts and ephemeral.ts.
import {
  botMember,
  chatParam,
  enforceSendLimit,
  HANDLERS,
  replyMarkupParam,
  requireBotInChat,
  resolveSendTarget,
  textParam,
  type CallContext,
  type Handler,
} from './bot-api';
import type { EphemeralRecord } from './ephemeral';
import { BotApiError, Errors } from './errors';
import { JOIN_QUERY_RESULTS, nowMs, type JoinQueryResult } from './join-queries';
import { optionalBool, optionalInt, optionalJson, optionalString, requiredInt, type Params } from './params';
import type { ChatRecord, TgMessage } from './types';
import { World } from './world';

// ---------- guard bots: join-request queries ----------

function requireInvitingAdmin(ctx: CallContext, chat: ChatRecord): void {
  const me = requireBotInChat(ctx, chat);
  if (!World.hasRight(me, 'can_invite_users')) throw Errors.chatAdminRequired();
}

/** An unknown, malformed, someone else's, answered, expired or closed query: Telegram's QUERY_ID_INVALID. */
function answerableQuery(ctx: CallContext) {
  const query = ctx.world.joinQueries.answerable(
    ctx.world,
    ctx.runtime.bot.user.id,
    optionalString(ctx.params, 'chat_join_request_query_id'),
  );
  if (!query) throw Errors.queryTooOld();
  return query;
}

const answerChatJoinRequestQuery: Handler = (ctx) => {
  const result = optionalString(ctx.params, 'result');
  // wording: simulator (the Bot API checks the value before asking Telegram; its text is not documented)
  if (!JOIN_QUERY_RESULTS.includes(result as JoinQueryResult)) throw Errors.badRequest('invalid result specified');
  const query = answerableQuery(ctx);
  const { world } = ctx;
  const chat = world.requireChat(query.chatId);
  requireInvitingAdmin(ctx, chat);
  if (result === 'approve') {
    if (World.isMember(world.member(chat, query.userId))) throw Errors.userAlreadyParticipant();
    world.removeJoinRequest(chat, query.userId);
    world.changeMember(
      chat,
      query.userId,
      { status: 'member', untilDate: 0, isMember: true },
      {
        actor: ctx.runtime.bot.user,
        viaJoinRequest: true,
        serviceMessage: true,
        ...(query.request.inviteLink ? { inviteLink: query.request.inviteLink } : {}),
      },
    );
    query.answeredState = 'approved';
  } else if (result === 'decline') {
    world.removeJoinRequest(chat, query.userId);
    query.answeredState = 'declined';
  } else {
    // queue: the request stays pending; admins (people or bots) decide it with approve/declineChatJoinRequest.
    query.answeredState = 'queued';
  }
  return true;
};

const sendChatJoinRequestWebApp: Handler = (ctx) => {
  const url = optionalString(ctx.params, 'web_app_url') ?? '';
  const { settings } = ctx.world.joinQueries;
  if (!isWebAppUrl(url, settings.allowHttpWebApps)) throw Errors.badRequest('URL_INVALID'); // wording: simulator (MTProto's name)
  const query = answerableQuery(ctx);
  // The Web App is shown once; the next step is the decision (simulator's choice, see join-queries.ts).
  if (query.answeredState === 'web_app') throw Errors.queryTooOld();
  requireInvitingAdmin(ctx, ctx.world.requireChat(query.chatId));
  const now = nowMs(ctx.world);
  query.answeredState = 'web_app';
  query.webApp = { url, sentAtMs: now };
  query.deadlineMs = now + settings.webAppWindowSeconds * 1000;
  return true;
};

function isWebAppUrl(text: string, allowHttp: boolean): boolean {
  try {
    const url = new URL(text);
    return url.protocol === 'https:' || (allowHttp && url.protocol === 'http:');
  } catch {
    return false;
  }
}

const getMe: Handler = (ctx) => ({
  ...(HANDLERS.getMe!(ctx) as object),
  supports_join_request_queries: ctx.world.joinQueries.guardCapableBots.has(ctx.runtime.bot.user.id),
});

/** ChatFullInfo.guard_bot: "only available to chat administrators". */
const getChat: Handler = (ctx) => {
  const info = HANDLERS.getChat!(ctx) as Record<string, unknown>;
  const chat = chatParam(ctx);
  const guardId = chat.joinByRequest ? ctx.world.joinQueries.guardByChat.get(chat.chat.id) : undefined;
  if (guardId !== undefined && World.isAdmin(botMember(ctx, chat))) {
    const guard = ctx.world.users.get(guardId);
    if (guard) info.guard_bot = guard;
  }
  return info;
};

// ---------- ephemeral messages ----------

interface EphemeralParams {
  receiverUserId?: number;
  callbackQueryId?: string;
  replace: boolean;
}

/** 10.3+ ephemeral_message_parameters, or 10.2's top-level receiver_user_id (+ callback_query_id). */
function ephemeralParams(params: Params): EphemeralParams | undefined {
  const nested = optionalJson<Params>(params, 'ephemeral_message_parameters');
  if (nested !== undefined) {
    if (typeof nested !== 'object' || nested === null || Array.isArray(nested))
      throw Errors.badRequest("can't parse ephemeral_message_parameters JSON object");
    const out: EphemeralParams = { replace: optionalBool(nested, 'replace_callback_query_message') ?? false };
    const receiver = optionalInt(nested, 'receiver_user_id');
    const callback = optionalString(nested, 'callback_query_id');
    if (receiver !== undefined) out.receiverUserId = receiver;
    if (callback !== undefined) out.callbackQueryId = callback;
    return out;
  }
  // 10.2: receiver_user_id is what makes a message ephemeral; callback_query_id alone does not.
  const receiver = optionalInt(params, 'receiver_user_id');
  if (receiver === undefined) return undefined;
  const callback = optionalString(params, 'callback_query_id');
  return { receiverUserId: receiver, replace: false, ...(callback !== undefined ? { callbackQueryId: callback } : {}) };
}

function sendEphemeral(ctx: CallContext, options: EphemeralParams): TgMessage {
  const { world, runtime } = ctx;
  const chat = chatParam(ctx);
  // "for group and supergroup chats only" (wording: simulator)
  if (chat.chat.type !== 'group' && chat.chat.type !== 'supergroup')
    throw Errors.badRequest('ephemeral messages can be sent only to group chats');
  resolveSendTarget(ctx); // the bot must be in the group and allowed to write, as for any message
  let receiverId = options.receiverUserId;
  let replacesMessageId: number | undefined;
  if (options.callbackQueryId !== undefined) {
    const query = world.callbackQueries.get(options.callbackQueryId);
    if (!query || query.botId !== runtime.bot.user.id || query.origin?.chatId !== chat.chat.id)
      throw Errors.queryTooOld();
    // 10.4: without receiver_user_id, the recipient is whoever pressed the button.
    if (receiverId === undefined) receiverId = query.fromId;
    else if (receiverId !== query.fromId)
      throw Errors.badRequest('receiver_user_id must be the user who pressed the button'); // wording: simulator
    if (options.replace) {
      if (query.origin.ephemeralMessageId !== undefined) {
        // "Must be False for callback queries from ephemeral messages" (wording: simulator)
        throw Errors.badRequest(
          "replace_callback_query_message can't be used for ephemeral messages; edit them with editEphemeralMessage methods",
        );
      }
      replacesMessageId = query.origin.messageId;
    }
  } else if (options.replace) {
    throw Errors.badRequest('replace_callback_query_message requires callback_query_id'); // wording: simulator
  }
  if (receiverId === undefined) throw Errors.missingParam('receiver_user_id');
  const receiver = world.users.get(receiverId);
  if (!receiver) throw Errors.userNotFound();
  if (receiver.is_bot) throw Errors.botCantSendToBots();
  if (!World.isMember(world.member(chat, receiverId))) throw Errors.badRequest('USER_NOT_PARTICIPANT');
  const text = textParam(ctx);
  const replyMarkup = replyMarkupParam(ctx);
  // Counted like a message to that one user (see ephemeral.ts).
  enforceSendLimit(ctx, 'sendMessage', receiverId);
  const record = world.ephemeral.add(
    {
      chatId: chat.chat.id,
      botId: runtime.bot.user.id,
      receiverId,
      sentAtMs: nowMs(world),
      ...(replacesMessageId !== undefined ? { replacesMessageId } : {}),
    },
    (ephemeralMessageId) => ({
      message_id: 0,
      from: runtime.bot.user,
      date: world.now(),
      chat: chat.chat,
      receiver_user: receiver,
      ephemeral_message_id: ephemeralMessageId,
      text,
      ...(replyMarkup ? { reply_markup: replyMarkup } : {}),
    }),
  );
  return structuredClone(record.message);
}

const sendMessage: Handler = (ctx) => {
  const options = ephemeralParams(ctx.params);
  return options ? sendEphemeral(ctx, options) : HANDLERS.sendMessage!(ctx);
};

function ephemeralTarget(ctx: CallContext, notFound: () => BotApiError, notOwn: () => BotApiError): EphemeralRecord {
  const chat = chatParam(ctx);
  const receiverId = requiredInt(ctx.params, 'receiver_user_id', () => Errors.missingParam('receiver_user_id'));
  const id = requiredInt(ctx.params, 'ephemeral_message_id', () =>
    Errors.badRequest('message identifier is not specified'),
  );
  const record = ctx.world.ephemeral.find(chat.chat.id, id, nowMs(ctx.world), { receiverId });
  if (!record) throw notFound();
  if (record.botId !== ctx.runtime.bot.user.id) throw notOwn();
  return record;
}

const editEphemeralMessageText: Handler = (ctx) => {
  const record = ephemeralTarget(ctx, Errors.messageToEditNotFound, Errors.messageCantBeEdited);
  const text = textParam(ctx);
  const replyMarkup = replyMarkupParam(ctx);
  if (record.message.text === text && JSON.stringify(record.message.reply_markup) === JSON.stringify(replyMarkup))
    throw Errors.messageNotModified();
  // Like editMessageText, an edit that does not repeat the keyboard removes it.
  ctx.world.ephemeral.edit(record, { text, replyMarkup }, ctx.world.now());
  return true;
};

const editEphemeralMessageReplyMarkup: Handler = (ctx) => {
  const record = ephemeralTarget(ctx, Errors.messageToEditNotFound, Errors.messageCantBeEdited);
  const replyMarkup = replyMarkupParam(ctx);
  if (JSON.stringify(record.message.reply_markup) === JSON.stringify(replyMarkup)) throw Errors.messageNotModified();
  ctx.world.ephemeral.edit(record, { replyMarkup }, ctx.world.now());
  return true;
};

const deleteEphemeralMessage: Handler = (ctx) => {
  const record = ephemeralTarget(ctx, Errors.messageToDeleteNotFound, Errors.messageCantBeDeleted);
  ctx.world.ephemeral.delete(record);
  return true;
};

// ---------- the full method table ----------

export const BOT_API_10_HANDLERS: Record<string, Handler> = {
  getMe,
  getChat,
  sendMessage,
  answerChatJoinRequestQuery,
  sendChatJoinRequestWebApp,
  editEphemeralMessageText,
  editEphemeralMessageReplyMarkup,
  deleteEphemeralMessage,
};

/** Telegram method names are case-insensitive. */
const ALL_HANDLERS = new Map(
  Object.entries({ ...HANDLERS, ...BOT_API_10_HANDLERS }).map(([name, handler]) => [
    name.toLowerCase(),
    { name, handler },
  ]),
);

export function findHandler(method: string): { name: string; handler: Handler } | undefined {
  return ALL_HANDLERS.get(method.toLowerCase());
}
