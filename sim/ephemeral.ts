// Ephemeral messages: a bot's message in a group that only one user sees (Bot API 10.2, July 2026; 10.3 and 10.4).
//
// Sources (Bot API text as mirrored by aiogram's schema for 10.2 and docs.aiogram.dev / grammy.dev / pub.dev
// televerse for 10.3-10.4; TDLib td_api.tl and telegram_api.tl for what the Bot API text leaves out):
// - sendMessage.receiver_user_id (10.2): "For outgoing ephemeral messages, unique identifier of the user who will
//   receive the message; for group and supergroup chats only. It is not guaranteed that the user will receive the
//   message, especially if they are offline." callback_query_id (10.2): "identifier of the callback query which
//   triggered the message if any".
// - 10.3 replaced both with ephemeral_message_parameters (EphemeralMessageParameters: receiver_user_id,
//   callback_query_id, replace_callback_query_message: "Pass True if the ephemeral message must be shown in place of
//   the original message. Must be False for callback queries from ephemeral messages, which must be edited using
//   regular editEphemeralMessage… methods"). The simulator accepts both forms, as Telegram keeps replaced parameters.
// - 10.4 (televerse 3.8.0 EphemeralMessageParameters): receiver_user_id is "Required unless callback_query_id is used
//   to send a reply to a callback query" - Telegram then takes the recipient from the callback; "The bot still needs
//   to answer the callback query".
// - Message.message_id: "0 for ephemeral messages"; Message.receiver_user: "For ephemeral messages, the user who
//   received the message"; Message.ephemeral_message_id: "identifier of the ephemeral message inside this chat. The
//   identifier may be reused for another ephemeral message after the message is deleted or expires."
// - editEphemeralMessageText / editEphemeralMessageReplyMarkup / deleteEphemeralMessage (chat_id, receiver_user_id,
//   ephemeral_message_id, …) return True; "it is not guaranteed that the user will receive the message edit
//   (deletion) event, especially if they are offline."
// - A press on a button of an ephemeral message reaches the bot as callback_query with the ephemeral message
//   (MTProto updateEphemeralBotCallbackQuery carries the EphemeralMessage).
//
// Where the sources are silent, the simulator chooses (stated here and in sim/README.md):
// - "Not guaranteed" is modelled by presence: a user marked offline gets nothing (the send still answers with the
//   Message; the control API shows it undelivered), and edits and deletions made while they are offline do not reach
//   them (they keep seeing what they had). Nothing is redelivered when they come back.
// - The receiver must be in the chat: otherwise 400 USER_NOT_PARTICIPANT (Telegram's MTProto error for a user who is
//   not a member, passed through by the Bot API server); a bot receiver gets 403 "bot can't send messages to bots".
// - Rate limits: ephemeral messages count like messages to that one user (1/s per user, 30/s per bot), not toward
//   the group's 20/min; Telegram does not document it.
// - Ephemeral messages do not expire unless `lifetimeSeconds` is set (the lifetime is undocumented).
// - The exact descriptions of the refusals that only the simulator words (marked "wording: simulator") are unknown;
//   clients should branch on the error code.
import type { InlineKeyboardMarkup, TgMessage } from './types';

export interface EphemeralRecord {
  ephemeralMessageId: number;
  chatId: number;
  botId: number;
  receiverId: number;
  /** the message as the bot last set it */
  message: TgMessage;
  deleted: boolean;
  /** whether the receiver got it when it was sent */
  delivered: boolean;
  /** what the receiver sees now (undefined: nothing) */
  visible?: TgMessage;
  /** a regular message this one is shown in place of, for the receiver (replace_callback_query_message) */
  replacesMessageId?: number;
  sentAtMs: number;
}

export interface EphemeralSettings {
  /** 0 = never expire */
  lifetimeSeconds: number;
}

export class EphemeralStore {
  private readonly byChat = new Map<number, { nextId: number; messages: Map<number, EphemeralRecord> }>();
  readonly offlineUserIds = new Set<number>();
  settings: EphemeralSettings = { lifetimeSeconds: 0 };

  clear(): void {
    this.byChat.clear();
    this.offlineUserIds.clear();
    this.settings = { lifetimeSeconds: 0 };
  }

  isOnline(userId: number): boolean {
    return !this.offlineUserIds.has(userId);
  }

  add(
    input: Omit<EphemeralRecord, 'ephemeralMessageId' | 'message' | 'deleted' | 'delivered' | 'visible'>,
    build: (id: number) => TgMessage,
  ): EphemeralRecord {
    let chat = this.byChat.get(input.chatId);
    if (!chat) this.byChat.set(input.chatId, (chat = { nextId: 1, messages: new Map() }));
    const ephemeralMessageId = chat.nextId++;
    const message = build(ephemeralMessageId);
    const delivered = this.isOnline(input.receiverId);
    const record: EphemeralRecord = { ...input, ephemeralMessageId, message, deleted: false, delivered };
    if (delivered) record.visible = structuredClone(message);
    chat.messages.set(ephemeralMessageId, record);
    return record;
  }

  /** A live (not deleted, not expired) ephemeral message of this bot to this receiver. */
  find(
    chatId: number,
    ephemeralMessageId: number,
    nowMs: number,
    filter: { botId?: number; receiverId?: number } = {},
  ): EphemeralRecord | undefined {
    const record = this.byChat.get(chatId)?.messages.get(ephemeralMessageId);
    if (!record || record.deleted || this.expired(record, nowMs)) return undefined;
    if (filter.botId !== undefined && record.botId !== filter.botId) return undefined;
    if (filter.receiverId !== undefined && record.receiverId !== filter.receiverId) return undefined;
    return record;
  }

  /** The bot changed the message: the receiver sees the change only if online. */
  edit(
    record: EphemeralRecord,
    change: { text?: string; replyMarkup?: InlineKeyboardMarkup | undefined },
    date: number,
  ): void {
    for (const target of [record.message, this.isOnline(record.receiverId) ? record.visible : undefined]) {
      if (!target) continue;
      if (change.text !== undefined) target.text = change.text;
      if ('replyMarkup' in change) {
        if (change.replyMarkup) target.reply_markup = structuredClone(change.replyMarkup);
        else delete target.reply_markup;
      }
      target.edit_date = date;
    }
  }

  delete(record: EphemeralRecord): void {
    record.deleted = true;
    if (this.isOnline(record.receiverId)) delete record.visible;
  }

  list(chatId: number): EphemeralRecord[] {
    return [...(this.byChat.get(chatId)?.messages.values() ?? [])];
  }

  /** What the user sees of this chat's ephemeral messages now. */
  visibleTo(chatId: number, userId: number, nowMs: number): EphemeralRecord[] {
    return this.list(chatId).filter(
      (r) => r.receiverId === userId && r.visible !== undefined && !this.expired(r, nowMs),
    );
  }

  expired(record: EphemeralRecord, nowMs: number): boolean {
    return this.settings.lifetimeSeconds > 0 && nowMs - record.sentAtMs > this.settings.lifetimeSeconds * 1000;
  }
}
