// Telegram Bot API object shapes the simulator produces, plus the simulator's internal records.
// Only the fields the simulator fills are declared; Telegram may send more, clients must ignore extras.

export interface TgUser {
  id: number;
  is_bot: boolean;
  first_name: string;
  last_name?: string;
  username?: string;
  language_code?: string;
}

export type ChatType = 'private' | 'group' | 'supergroup' | 'channel';

export interface TgChat {
  id: number;
  type: ChatType;
  title?: string;
  username?: string;
  first_name?: string;
  last_name?: string;
  is_forum?: true;
}

/** The 14 granular permissions of Bot API 6.5+ (`ChatPermissions`). */
export const PERMISSION_KEYS = [
  'can_send_messages',
  'can_send_audios',
  'can_send_documents',
  'can_send_photos',
  'can_send_videos',
  'can_send_video_notes',
  'can_send_voice_notes',
  'can_send_polls',
  'can_send_other_messages',
  'can_add_web_page_previews',
  'can_change_info',
  'can_invite_users',
  'can_pin_messages',
  'can_manage_topics',
] as const;
export type PermissionKey = (typeof PERMISSION_KEYS)[number];
export type ChatPermissions = Record<PermissionKey, boolean>;

export const ADMIN_RIGHT_KEYS = [
  'is_anonymous',
  'can_manage_chat',
  'can_delete_messages',
  'can_manage_video_chats',
  'can_restrict_members',
  'can_promote_members',
  'can_change_info',
  'can_invite_users',
  'can_post_stories',
  'can_edit_stories',
  'can_delete_stories',
  'can_post_messages',
  'can_edit_messages',
  'can_pin_messages',
  'can_manage_topics',
] as const;
export type AdminRightKey = (typeof ADMIN_RIGHT_KEYS)[number];
export type AdminRights = Record<AdminRightKey, boolean>;

export type MemberStatus = 'creator' | 'administrator' | 'member' | 'restricted' | 'left' | 'kicked';

export type TgChatMember =
  | { status: 'creator'; user: TgUser; is_anonymous: boolean; custom_title?: string }
  | ({ status: 'administrator'; user: TgUser; can_be_edited: boolean; custom_title?: string } & AdminRights)
  | { status: 'member'; user: TgUser; until_date?: number }
  | ({ status: 'restricted'; user: TgUser; is_member: boolean; until_date: number } & ChatPermissions)
  | { status: 'left'; user: TgUser }
  | { status: 'kicked'; user: TgUser; until_date: number };

export interface InlineKeyboardButton {
  text: string;
  callback_data?: string;
  url?: string;
  [extra: string]: unknown;
}
export interface InlineKeyboardMarkup {
  inline_keyboard: InlineKeyboardButton[][];
}

export interface TgChatInviteLink {
  invite_link: string;
  creator: TgUser;
  creates_join_request: boolean;
  is_primary: boolean;
  is_revoked: boolean;
  name?: string;
  expire_date?: number;
  member_limit?: number;
}

export interface TgMessage {
  message_id: number;
  date: number;
  chat: TgChat;
  from?: TgUser;
  sender_chat?: TgChat;
  message_thread_id?: number;
  is_topic_message?: true;
  is_automatic_forward?: true;
  text?: string;
  edit_date?: number;
  reply_markup?: InlineKeyboardMarkup;
  reply_to_message?: TgMessage;
  new_chat_members?: TgUser[];
  left_chat_member?: TgUser;
  /** in a group upgraded to a supergroup: the supergroup's id */
  migrate_to_chat_id?: number;
  /** in the supergroup: the group it was upgraded from */
  migrate_from_chat_id?: number;
  [extra: string]: unknown;
}

export interface TgChatMemberUpdated {
  chat: TgChat;
  from: TgUser;
  date: number;
  old_chat_member: TgChatMember;
  new_chat_member: TgChatMember;
  invite_link?: TgChatInviteLink;
  via_join_request?: boolean;
}

export interface TgCallbackQuery {
  id: string;
  from: TgUser;
  message: TgMessage;
  chat_instance: string;
  data?: string;
}

export interface TgChatJoinRequest {
  chat: TgChat;
  from: TgUser;
  user_chat_id: number;
  date: number;
  bio?: string;
  invite_link?: TgChatInviteLink;
  /** Bot API 10.1: only in the chat's guard bot's copy; answer within 10 s */
  query_id?: string;
}

/** Update payloads by type; exactly one is present on each update. */
export interface UpdatePayloads {
  message: TgMessage;
  edited_message: TgMessage;
  channel_post: TgMessage;
  callback_query: TgCallbackQuery;
  my_chat_member: TgChatMemberUpdated;
  chat_member: TgChatMemberUpdated;
  chat_join_request: TgChatJoinRequest;
}
export type UpdateType = keyof UpdatePayloads;
export type TgUpdate = { update_id: number } & { [K in UpdateType]?: UpdatePayloads[K] };

/** Every update type Telegram knows; the default subscription is all of them but the three below. */
export const ALL_UPDATE_TYPES = [
  'message',
  'edited_message',
  'channel_post',
  'edited_channel_post',
  'business_connection',
  'business_message',
  'edited_business_message',
  'deleted_business_messages',
  'message_reaction',
  'message_reaction_count',
  'inline_query',
  'chosen_inline_result',
  'callback_query',
  'shipping_query',
  'pre_checkout_query',
  'purchased_paid_media',
  'poll',
  'poll_answer',
  'my_chat_member',
  'chat_member',
  'chat_join_request',
  'chat_boost',
  'removed_chat_boost',
] as const;
export const DEFAULT_EXCLUDED_UPDATE_TYPES = ['chat_member', 'message_reaction', 'message_reaction_count'];

// ---- internal records ----

export interface MemberRecord {
  status: MemberStatus;
  /** unix seconds; 0 = forever. For restricted and kicked. */
  untilDate: number;
  /** restricted only: whether the user is still in the chat */
  isMember: boolean;
  permissions?: ChatPermissions;
  rights?: AdminRights;
  isAnonymous?: boolean;
  customTitle?: string;
}

export interface ChatRecord {
  chat: TgChat;
  permissions: ChatPermissions;
  linkedChatId?: number;
  /** set once a group is upgraded: the supergroup that replaced it (Bot API calls on this chat fail) */
  migratedToChatId?: number;
  description?: string;
  joinByRequest: boolean;
  /** Telegram's chat_instance for callback queries: stable per chat */
  chatInstance: string;
  primaryInviteLink?: TgChatInviteLink;
  inviteLinks: Map<string, TgChatInviteLink>;
  members: Map<number, MemberRecord>;
  /** creator + administrators, for getChatAdministrators without a scan */
  adminIds: Set<number>;
  /** bots whose status makes them receive updates here */
  botMemberIds: Set<number>;
  memberCount: number;
  messages: Map<number, StoredMessage>;
  nextMessageId: number;
  joinRequests: Map<number, { date: number; bio?: string; inviteLink?: TgChatInviteLink }>;
  /** channels banned from writing here (banChatSenderChat) */
  bannedSenderChats: Set<number>;
}

export interface StoredMessage {
  message: TgMessage;
  deleted: boolean;
}

export interface BotRecord {
  user: TgUser;
  token: string;
  revoked: boolean;
  /** false = privacy mode on: in groups where it is not admin, the bot sees only commands, replies to it and service messages */
  canReadAllGroupMessages: boolean;
  webhookUrl: string;
  commands: unknown[];
  /** users who opened a private chat with the bot (may be messaged) */
  startedUserIds: Set<number>;
}
