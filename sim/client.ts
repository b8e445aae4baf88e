// Typed client for the simulator's control API (/sim/...), for end-to-end tests and scripts.
import type { CallCounters, CallRecord } from './call-log';
import type { FaultRuleInput } from './faults';
import type { LimitSettings } from './limits';
import type {
  ChatPermissions,
  ChatType,
  MemberStatus,
  TgChat,
  TgChatInviteLink,
  TgChatMember,
  TgMessage,
  TgUpdate,
  TgUser,
} from './types';

export interface SimBot {
  id: number;
  token: string;
  username: string;
  user: TgUser;
  revoked: boolean;
  webhookUrl: string;
  allowedUpdates: string[];
  pendingUpdates: number;
  limits: LimitSettings;
  faults: FaultRuleInput[];
}

export interface SimChat {
  id: number;
  chat: TgChat;
  permissions: ChatPermissions;
  linkedChatId: number | null;
  joinByRequest: boolean;
  memberCount: number;
  adminIds: number[];
  /** channels banned from writing here (banChatSenderChat) */
  bannedSenderChats: number[];
}

export interface SimMemberState {
  status: MemberStatus;
  isMember: boolean;
  untilDate: number;
  chatMember: TgChatMember;
  effectivePermissions: ChatPermissions;
}

export interface CreateChatInput {
  type: Exclude<ChatType, 'private'>;
  id?: number;
  title?: string;
  username?: string;
  ownerId?: number;
  linkedChatId?: number;
  permissions?: Partial<ChatPermissions>;
  isForum?: boolean;
  joinByRequest?: boolean;
  description?: string;
}

export interface SetMemberInput {
  status: MemberStatus;
  /** admin rights (can_restrict_members, can_invite_users, …); missing = false */
  rights?: Record<string, boolean>;
  /** restricted: permissions; missing = false */
  permissions?: Partial<ChatPermissions>;
  untilDate?: number;
  isMember?: boolean;
  isAnonymous?: boolean;
  customTitle?: string;
  actorId?: number;
  silent?: boolean;
}

/** A guard bot's join-request query as the control API shows it (see sim/join-queries.ts). */
export interface SimJoinQuery {
  id: string;
  chatId: number;
  userId: number;
  botId: number;
  state: 'pending' | 'web_app' | 'approved' | 'declined' | 'queued' | 'expired' | 'closed';
  /** the Web App the user was shown (sendChatJoinRequestWebApp) */
  webAppUrl: string | null;
  webAppOpen: boolean;
  createdAtMs: number;
  deadlineMs: number;
}

export interface SimJoinQuerySettings {
  answerWindowSeconds: number;
  webAppWindowSeconds: number;
  allowHttpWebApps: boolean;
}

/** An ephemeral message as the simulator keeps it (see sim/ephemeral.ts). */
export interface SimEphemeralMessage {
  ephemeralMessageId: number;
  botId: number;
  receiverId: number;
  delivered: boolean;
  deleted: boolean;
  expired: boolean;
  replacesMessageId: number | null;
  /** as the bot last set it */
  message: TgMessage;
  /** what the receiver sees, null: nothing */
  visible: TgMessage | null;
}

/** A chat as one user sees it. */
export interface SimUserView {
  messages: TgMessage[];
  ephemeral: { message: TgMessage; replacesMessageId: number | null }[];
}

export class SimControlError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export class SimClient {
  constructor(readonly baseUrl: string) {}

  /** The Bot API root for Telegraf: `new Telegraf(token, { telegram: { apiRoot: sim.apiRoot } })`. */
  get apiRoot(): string {
    return this.baseUrl;
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const init: RequestInit = { method };
    if (body !== undefined) {
      init.body = JSON.stringify(body);
      init.headers = { 'content-type': 'application/json' };
    }
    const response = await fetch(`${this.baseUrl}${path}`, init);
    const data = (await response.json()) as T & { error?: string };
    if (!response.ok) throw new SimControlError(response.status, data.error ?? `HTTP ${response.status}`);
    return data;
  }

  reset(): Promise<{ ok: true }> {
    return this.call('POST', '/sim/reset');
  }
  state(): Promise<{ bots: number; users: number; chats: number; now: number }> {
    return this.call('GET', '/sim/state');
  }
  /** Moves Telegram's clock forward (restrictions and bans with until_date expire). */
  advanceClock(seconds: number): Promise<{ now: number }> {
    return this.call('POST', '/sim/clock', { advanceSeconds: seconds });
  }

  // bots
  createBot(
    input: {
      id?: number;
      token?: string;
      username?: string;
      firstName?: string;
      canReadAllGroupMessages?: boolean;
      allowedUpdates?: string[];
      limits?: Partial<LimitSettings>;
    } = {},
  ): Promise<SimBot> {
    return this.call('POST', '/sim/bots', input);
  }
  getBot(botId: number): Promise<SimBot> {
    return this.call('GET', `/sim/bots/${botId}`);
  }
  revokeToken(botId: number): Promise<{ ok: true }> {
    return this.call('POST', `/sim/bots/${botId}/revoke`);
  }
  /** Adds fault rules (or replaces all with replace: true). */
  addFaults(botId: number, rules: FaultRuleInput[], replace = false): Promise<{ faults: FaultRuleInput[] }> {
    return this.call('POST', `/sim/bots/${botId}/faults`, { rules, replace });
  }
  clearFaults(botId: number): Promise<{ faults: [] }> {
    return this.call('DELETE', `/sim/bots/${botId}/faults`);
  }
  /** Holds the bot's updates (getUpdates answers none, as if its process were down) or releases them at once. */
  holdDelivery(botId: number, held: boolean): Promise<{ held: boolean }> {
    return this.call('PUT', `/sim/bots/${botId}/delivery`, { held });
  }
  setLimits(botId: number, limits: Partial<LimitSettings>): Promise<LimitSettings> {
    return this.call('PUT', `/sim/bots/${botId}/limits`, limits);
  }
  calls(
    botId: number,
    filter: { method?: string; sinceSeq?: number } = {},
  ): Promise<{ calls: CallRecord[]; counters: CallCounters }> {
    const query = new URLSearchParams();
    if (filter.method) query.set('method', filter.method);
    if (filter.sinceSeq !== undefined) query.set('sinceSeq', String(filter.sinceSeq));
    const suffix = query.size ? `?${query}` : '';
    return this.call('GET', `/sim/bots/${botId}/calls${suffix}`);
  }
  clearCalls(botId: number): Promise<{ ok: true }> {
    return this.call('DELETE', `/sim/bots/${botId}/calls`);
  }
  pendingUpdates(botId: number): Promise<{ updates: TgUpdate[] }> {
    return this.call('GET', `/sim/bots/${botId}/updates`);
  }
  /** The user writes to the bot in private (opens the chat, so the bot may answer). */
  sendPrivateMessage(botId: number, userId: number, text: string): Promise<TgMessage> {
    return this.call('POST', `/sim/bots/${botId}/private-messages`, { userId, text });
  }

  // users
  createUser(
    input: { id?: number; firstName?: string; lastName?: string; username?: string; languageCode?: string } = {},
  ): Promise<TgUser> {
    return this.call('POST', '/sim/users', input);
  }
  createUsers(count: number, firstName?: string): Promise<{ ids: number[] }> {
    return this.call('POST', '/sim/users/bulk', firstName ? { count, firstName } : { count });
  }

  // chats
  createChat(input: CreateChatInput): Promise<SimChat> {
    return this.call('POST', '/sim/chats', input);
  }
  getChat(chatId: number): Promise<SimChat> {
    return this.call('GET', `/sim/chats/${chatId}`);
  }
  updateChat(
    chatId: number,
    patch: {
      permissions?: Partial<ChatPermissions>;
      title?: string;
      joinByRequest?: boolean;
      linkedChatId?: number;
      description?: string;
    },
  ): Promise<SimChat> {
    return this.call('PATCH', `/sim/chats/${chatId}`, patch);
  }
  member(chatId: number, userId: number): Promise<SimMemberState> {
    return this.call('GET', `/sim/chats/${chatId}/members/${userId}`);
  }
  setMember(chatId: number, userId: number, input: SetMemberInput): Promise<{ ok: true }> {
    return this.call('PUT', `/sim/chats/${chatId}/members/${userId}`, input);
  }
  /** Convenience: make a bot an administrator with the given rights (default: restrict, invite, delete). */
  makeAdmin(
    chatId: number,
    userId: number,
    rights: Record<string, boolean> = { can_restrict_members: true, can_invite_users: true, can_delete_messages: true },
  ): Promise<{ ok: true }> {
    return this.setMember(chatId, userId, { status: 'administrator', rights });
  }
  join(
    chatId: number,
    userId: number,
    options: { actorId?: number; inviteLink?: string } = {},
  ): Promise<{ outcome: 'joined' | 'requested' | 'already_member' }> {
    return this.call('POST', `/sim/chats/${chatId}/join`, { userId, ...options });
  }
  leave(chatId: number, userId: number, options: { actorId?: number } = {}): Promise<{ ok: true }> {
    return this.call('POST', `/sim/chats/${chatId}/leave`, { userId, ...options });
  }
  requestJoin(
    chatId: number,
    userId: number,
    options: { inviteLink?: string; bio?: string } = {},
  ): Promise<{ ok: true }> {
    return this.call('POST', `/sim/chats/${chatId}/join-requests`, { userId, ...options });
  }
  joinRequests(chatId: number): Promise<{ requests: { userId: number; date: number; inviteLink: string | null }[] }> {
    return this.call('GET', `/sim/chats/${chatId}/join-requests`);
  }
  approveJoinRequest(chatId: number, userId: number, actorId?: number): Promise<{ ok: true }> {
    return this.call(
      'POST',
      `/sim/chats/${chatId}/join-requests/${userId}/approve`,
      actorId === undefined ? {} : { actorId },
    );
  }
  declineJoinRequest(chatId: number, userId: number, actorId?: number): Promise<{ ok: true }> {
    return this.call(
      'POST',
      `/sim/chats/${chatId}/join-requests/${userId}/decline`,
      actorId === undefined ? {} : { actorId },
    );
  }
  createInviteLink(
    chatId: number,
    options: { createsJoinRequest?: boolean; name?: string; creatorId?: number } = {},
  ): Promise<TgChatInviteLink> {
    return this.call('POST', `/sim/chats/${chatId}/invite-links`, options);
  }
  /** Upgrades a basic group to a supergroup (new id); the old id then answers Bot API calls with migrate_to_chat_id. */
  migrateToSupergroup(chatId: number, options: { actorId?: number } = {}): Promise<{ chat: TgChat }> {
    return this.call('POST', `/sim/chats/${chatId}/migrate`, options);
  }
  sendMessage(
    chatId: number,
    input: {
      fromId?: number;
      text: string;
      messageThreadId?: number;
      replyToMessageId?: number;
      anonymousAdmin?: boolean;
      senderChatId?: number;
    },
  ): Promise<TgMessage> {
    return this.call('POST', `/sim/chats/${chatId}/messages`, input);
  }
  /** Messages visible in the chat (deleted ones excluded), oldest first. */
  messages(chatId: number): Promise<{ messages: TgMessage[] }> {
    return this.call('GET', `/sim/chats/${chatId}/messages`);
  }
  postToChannel(chatId: number, text: string): Promise<{ post: TgMessage; forwarded?: TgMessage }> {
    return this.call('POST', `/sim/chats/${chatId}/posts`, { text });
  }
  pressButton(chatId: number, messageId: number, userId: number, data: string): Promise<{ callbackQueryId: string }> {
    return this.call('POST', `/sim/chats/${chatId}/messages/${messageId}/press`, { userId, data });
  }
  callbackQuery(
    id: string,
  ): Promise<{ id: string; answered: boolean; answer: { text?: string; show_alert?: boolean; url?: string } | null }> {
    return this.call('GET', `/sim/callback-queries/${id}`);
  }

  // guard bots and join-request queries (Bot API 10.1)
  /** The bot's "supports join request queries" setting (getMe.supports_join_request_queries); needed to be a guard. */
  setSupportsJoinRequestQueries(
    botId: number,
    supports: boolean,
  ): Promise<{ id: number; supportsJoinRequestQueries: boolean }> {
    return this.call('PATCH', `/sim/bots/${botId}`, { supportsJoinRequestQueries: supports });
  }
  /** Names the supergroup's guard bot (turns join-by-request on) or, with null, removes it. */
  setGuardBot(
    chatId: number,
    botId: number | null,
  ): Promise<{ chatId: number; guardBotId: number | null; joinByRequest: boolean }> {
    return this.call('PUT', `/sim/chats/${chatId}/guard-bot`, { botId });
  }
  joinQueries(filter: { chatId?: number; userId?: number; botId?: number } = {}): Promise<{ queries: SimJoinQuery[] }> {
    const query = new URLSearchParams(Object.entries(filter).map(([k, v]): [string, string] => [k, String(v)]));
    return this.call('GET', `/sim/join-queries${query.size ? `?${query}` : ''}`);
  }
  joinQuery(id: string): Promise<SimJoinQuery> {
    return this.call('GET', `/sim/join-queries/${id}`);
  }
  /** The user opens the Web App the guard bot sent: its URL and the signed initData Telegram hands the page. */
  openJoinQueryWebApp(id: string): Promise<{ url: string; launchUrl: string; initData: string }> {
    return this.call('POST', `/sim/join-queries/${id}/open`);
  }
  setJoinQuerySettings(patch: Partial<SimJoinQuerySettings>): Promise<SimJoinQuerySettings> {
    return this.call('PUT', '/sim/join-queries/settings', patch);
  }

  // ephemeral messages (Bot API 10.2)
  /** An offline user receives no ephemeral messages, edits or deletions (Telegram does not guarantee delivery). */
  setUserOnline(userId: number, online: boolean): Promise<{ userId: number; online: boolean }> {
    return this.call('PUT', `/sim/users/${userId}/presence`, { online });
  }
  ephemeralMessages(chatId: number): Promise<{ messages: SimEphemeralMessage[] }> {
    return this.call('GET', `/sim/chats/${chatId}/ephemeral`);
  }
  /** The chat as this user sees it: group messages (less replaced ones) and their ephemeral messages. */
  viewAs(chatId: number, userId: number): Promise<SimUserView> {
    return this.call('GET', `/sim/chats/${chatId}/view/${userId}`);
  }
  pressEphemeralButton(
    chatId: number,
    ephemeralMessageId: number,
    userId: number,
    data: string,
  ): Promise<{ callbackQueryId: string }> {
    return this.call('POST', `/sim/chats/${chatId}/ephemeral/${ephemeralMessageId}/press`, { userId, data });
  }
  setEphemeralSettings(settings: { lifetimeSeconds: number }): Promise<{ lifetimeSeconds: number }> {
    return this.call('PUT', '/sim/ephemeral/settings', settings);
  }

  /** Load set-up: many users become members at once, with no updates or service messages. */
  bulkJoin(chatId: number, userIds: number[]): Promise<{ joined: number }> {
    return this.call('POST', '/sim/bulk/joins', { chatId, userIds });
  }
}
