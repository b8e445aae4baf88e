import type { TgMessage } from '../../sim/types';
import type { Platform } from '../support/platform';
import { waitFor } from '../support/process';

export type Bot = Awaited<ReturnType<Platform['addBot']>>;

/**
 * Everything the bot was sent so far is handled: Telegram holds no unconfirmed update for it (so the poller
 * has queued them all) and its queue has nothing waiting or running. Delayed follow-ups do not count.
 */
export async function settled(platform: Platform, bot: Bot, timeoutMs = 15_000): Promise<void> {
  const queue = platform.queue(bot.instanceId);
  let quietSince = 0;
  await waitFor(
    async () => {
      const { updates } = await platform.client.pendingUpdates(bot.id);
      const counts = await queue.getJobCounts('waiting', 'active', 'prioritized', 'waiting-children');
      const busy =
        updates.length + counts.waiting! + counts.active! + counts.prioritized! + counts['waiting-children']!;
      if (busy) {
        quietSince = 0;
        return false;
      }
      // Two quiet looks in a row: a batch between getUpdates and addBulk cannot slip between them.
      if (!quietSince) quietSince = Date.now();
      return Date.now() - quietSince >= 100;
    },
    timeoutMs,
    `bot ${bot.id} to settle`,
  );
}

export async function waitMuted(platform: Platform, chatId: number, userId: number, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const m = await platform.client.member(chatId, userId);
      return m.status === 'restricted' && m.isMember && !m.effectivePermissions.can_send_messages ? m : undefined;
    },
    timeoutMs,
    `user ${userId} to be muted`,
  );
}

export async function waitUnmuted(platform: Platform, chatId: number, userId: number, timeoutMs = 15_000) {
  return waitFor(
    async () => {
      const m = await platform.client.member(chatId, userId);
      return m.status === 'member' ? m : undefined;
    },
    timeoutMs,
    `user ${userId} to be unmuted`,
  );
}

/**
 * Visible messages in the chat that prompt `userId`: an "I've joined" button bound to them, or a shared prompt
 * (button `v:0`) naming them with a text_mention.
 */
export async function promptsFor(platform: Platform, chatId: number, userId: number): Promise<TgMessage[]> {
  const { messages } = await platform.client.messages(chatId);
  return messages.filter((m) => namedIn(m).includes(userId));
}

/** The users a visible prompt is for: its bound user, or everyone a shared prompt names. */
export function namedIn(message: TgMessage): number[] {
  const markup = JSON.stringify(message.reply_markup ?? {});
  const bound = /"callback_data":"v:(\d+)"/.exec(markup);
  if (!bound) return [];
  if (bound[1] !== '0') return [Number(bound[1])];
  const entities = (message as { entities?: { type: string; user?: { id: number } }[] }).entities ?? [];
  return entities.flatMap((e) => (e.type === 'text_mention' && e.user ? [e.user.id] : []));
}

export async function waitPrompt(
  platform: Platform,
  chatId: number,
  userId: number,
  timeoutMs = 15_000,
): Promise<TgMessage> {
  const found = await waitFor(
    async () => {
      const prompts = await promptsFor(platform, chatId, userId);
      return prompts.length ? prompts : undefined;
    },
    timeoutMs,
    `a prompt for ${userId}`,
  );
  return found![0]!;
}

export function buttons(message: TgMessage): { text: string; url?: string; callback_data?: string }[] {
  const markup = message.reply_markup as
    { inline_keyboard?: { text: string; url?: string; callback_data?: string }[][] } | undefined;
  return markup?.inline_keyboard?.flat() ?? [];
}

/** Presses a button and waits for the bot's answer to the callback query. */
export async function press(
  platform: Platform,
  chatId: number,
  messageId: number,
  userId: number,
  data: string,
  timeoutMs = 15_000,
) {
  const { callbackQueryId } = await platform.client.pressButton(chatId, messageId, userId, data);
  const query = await waitFor(
    async () => {
      const q = await platform.client.callbackQuery(callbackQueryId);
      return q.answered ? q : undefined;
    },
    timeoutMs,
    `an answer to ${data}`,
  );
  return query!.answer ?? {};
}

/** Bot messages that reply to `messageId` (command answers). */
export async function waitReply(
  platform: Platform,
  chatId: number,
  messageId: number,
  timeoutMs = 15_000,
): Promise<TgMessage> {
  return (await waitFor(
    async () => {
      const { messages } = await platform.client.messages(chatId);
      return messages.find((m) => m.reply_to_message?.message_id === messageId && m.from?.is_bot);
    },
    timeoutMs,
    `a reply to message ${messageId}`,
  ))!;
}

/** verification_log rows of a user in a chat, oldest first, once at least `count` exist (written every 250 ms). */
export async function logRows(
  platform: Platform,
  chatId: number,
  userId: number,
  count: number,
  botInstanceId?: number,
) {
  const where = { chatId: BigInt(chatId), userId: BigInt(userId), ...(botInstanceId ? { botInstanceId } : {}) };
  await waitFor(
    async () => (await platform.ctx.db.verificationLog.count({ where })) >= count,
    10_000,
    `${count} log rows for ${userId}`,
  );
  return platform.ctx.db.verificationLog.findMany({ where, orderBy: { id: 'asc' } });
}
