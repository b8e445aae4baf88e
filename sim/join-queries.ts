// Guard bots and join-request queries (Bot API 10.1, June 2026).
//
// Sources (Bot API text as mirrored by aiogram's schema for 10.2, docs.aiogram.dev; TDLib's td_api.tl):
// - ChatFullInfo.guard_bot: "The bot that processes join request queries in the chat. The field is only available
//   to chat administrators."
// - User.supports_join_request_queries: "True, if the bot supports join request queries and can be assigned to
//   process them. Returned only in getMe." It is a property of the bot (TDLib userTypeBot.is_guard), not of a user's app.
// - TDLib toggleSupergroupJoinByRequest(join_by_request, guard_bot_user_id): guard bots exist in supergroups only; the
//   guard is ignored when join_by_request is false; "The bot must have administrator privileges and can_invite_users
//   right in the supergroup chat, and must have userTypeBot.is_guard == true".
// - ChatJoinRequest.query_id: "Identifier of the join request query; for bots assigned to process join requests only.
//   If present, then the bot must call sendChatJoinRequestWebApp or directly call answerChatJoinRequestQuery within
//   10 seconds." Other admin bots get the same update without it.
// - answerChatJoinRequestQuery(chat_join_request_query_id, result): 'approve' lets the user join, 'decline' refuses,
//   'queue' leaves the decision to other administrators. Returns True.
// - sendChatJoinRequestWebApp(chat_join_request_query_id, web_app_url): shows a Mini App (HTTPS URL) to the user
//   before the decision; the bot then resolves the query with answerChatJoinRequestQuery. Returns True.
// - TDLib updateChatJoinResult: when the query is answered, a Web App still open is closed.
// - Errors: the Bot API server turns TDLib's QUERY_ID_INVALID into "Bad Request: query is too old and response timeout
//   expired or query ID is invalid" (tdlib/telegram-bot-api Client.cpp, fail_query), and parses ids with
//   to_integer, so an unknown, malformed, answered or expired id all get that answer.
//
// Where the sources are silent, the simulator chooses (all stated here and in sim/README.md):
// - The join request itself is an ordinary pending request from the start (admins may approve or decline it at any
//   time, which closes the query). `queue` and an unanswered query that expires both leave it pending for admins.
// - How long a query stays answerable after sendChatJoinRequestWebApp is not documented: one hour by default.
// - A second sendChatJoinRequestWebApp on the same query is refused like an answered query.
// - HTTP (non-TLS) Web App URLs are refused unless `allowHttpWebApps` is set, as Telegram's test environment allows
//   ("When using the test environment, you may use HTTP URLs without TLS", core.telegram.org/bots/webapps).
import type { ChatRecord, TgChatInviteLink } from './types';
import type { World } from './world';

export type JoinQueryResult = 'approve' | 'decline' | 'queue';
export const JOIN_QUERY_RESULTS: readonly JoinQueryResult[] = ['approve', 'decline', 'queue'];

/**
 * pending: waiting for the bot (10 s); web_app: the user was shown the bot's Web App; approved / declined / queued:
 * the bot answered; expired: nobody answered in time (the request stays for admins); closed: the request was decided
 * elsewhere (an admin or approveChatJoinRequest) or withdrawn.
 */
export type JoinQueryState = 'pending' | 'web_app' | 'approved' | 'declined' | 'queued' | 'expired' | 'closed';

type JoinRequestRecord = { date: number; bio?: string; inviteLink?: TgChatInviteLink };

export interface JoinQueryRecord {
  id: string;
  chatId: number;
  userId: number;
  botId: number;
  /** the chat's request this query is about; when it is gone or replaced, the query is closed */
  request: JoinRequestRecord;
  createdAtMs: number;
  /** Telegram-clock ms after which the query can no longer be answered */
  deadlineMs: number;
  /** set once the bot answered or sent the Web App */
  answeredState?: 'web_app' | 'approved' | 'declined' | 'queued';
  webApp?: { url: string; sentAtMs: number };
}

export interface JoinQuerySettings {
  /** ChatJoinRequest.query_id: "within 10 seconds" */
  answerWindowSeconds: number;
  /** after sendChatJoinRequestWebApp; undocumented, the simulator's choice */
  webAppWindowSeconds: number;
  /** accept http:// Web App URLs, as Telegram's test environment does */
  allowHttpWebApps: boolean;
}

export const DEFAULT_JOIN_QUERY_SETTINGS: JoinQuerySettings = {
  answerWindowSeconds: 10,
  webAppWindowSeconds: 3600,
  allowHttpWebApps: false,
};

export class JoinQueryStore {
  /** chat id -> guard bot id (set by the chat's owner) */
  readonly guardByChat = new Map<number, number>();
  /** bots with "supports join request queries" on (a BotFather setting) */
  readonly guardCapableBots = new Set<number>();
  readonly queries = new Map<string, JoinQueryRecord>();
  settings: JoinQuerySettings = { ...DEFAULT_JOIN_QUERY_SETTINGS };
  private nextSeq = 1;

  clear(): void {
    this.guardByChat.clear();
    this.guardCapableBots.clear();
    this.queries.clear();
    this.settings = { ...DEFAULT_JOIN_QUERY_SETTINGS };
    this.nextSeq = 1;
  }

  /** The bot that gets query_id for this chat's join requests now, if any (it must still be an inviting admin). */
  effectiveGuard(world: World, chat: ChatRecord): number | undefined {
    const botId = this.guardByChat.get(chat.chat.id);
    if (botId === undefined || !chat.joinByRequest || chat.chat.type !== 'supergroup') return undefined;
    const record = world.member(chat, botId);
    const isInvitingAdmin =
      record.status === 'creator' || (record.status === 'administrator' && record.rights?.can_invite_users === true);
    return isInvitingAdmin ? botId : undefined;
  }

  /** Called when a join request is filed: opens a query for the chat's guard bot, if it has one. */
  open(world: World, chat: ChatRecord, userId: number): JoinQueryRecord | undefined {
    const botId = this.effectiveGuard(world, chat);
    const request = chat.joinRequests.get(userId);
    if (botId === undefined || !request) return undefined;
    const now = nowMs(world);
    // Numeric like Telegram's int64 query ids (the Bot API server parses them with to_integer).
    const id = `${BigInt(userId) * 1_000_000n + BigInt(this.nextSeq++)}`;
    const query: JoinQueryRecord = {
      id,
      chatId: chat.chat.id,
      userId,
      botId,
      request,
      createdAtMs: now,
      deadlineMs: now + this.settings.answerWindowSeconds * 1000,
    };
    this.queries.set(id, query);
    return query;
  }

  state(world: World, query: JoinQueryRecord): JoinQueryState {
    if (query.answeredState && query.answeredState !== 'web_app') return query.answeredState;
    const chat = world.chats.get(query.chatId);
    if (!chat || chat.joinRequests.get(query.userId) !== query.request) return 'closed';
    if (nowMs(world) > query.deadlineMs) return 'expired';
    return query.answeredState ?? 'pending';
  }

  /** The query a bot may still act on, or undefined (unknown, someone else's, answered, expired or closed). */
  answerable(world: World, botId: number, id: string | undefined): JoinQueryRecord | undefined {
    const query = id === undefined ? undefined : this.queries.get(id);
    if (!query || query.botId !== botId) return undefined;
    const state = this.state(world, query);
    return state === 'pending' || state === 'web_app' ? query : undefined;
  }

  describe(world: World, query: JoinQueryRecord) {
    const state = this.state(world, query);
    return {
      id: query.id,
      chatId: query.chatId,
      userId: query.userId,
      botId: query.botId,
      state,
      webAppUrl: query.webApp?.url ?? null,
      /** TDLib closes the Web App when the query is answered */
      webAppOpen: state === 'web_app',
      createdAtMs: query.createdAtMs,
      deadlineMs: query.deadlineMs,
    };
  }
}

/** Telegram's clock in ms (the simulator's clock can be advanced). */
export function nowMs(world: World): number {
  return Date.now() + world.clockOffsetMs;
}
