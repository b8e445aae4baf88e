import type { Queue } from 'bullmq';
import type { ActiveBot } from '../core/bots';
import type { AppContext } from '../core/context';
import type { BatchWriter, VerificationRecord } from '../core/log-writer';
import type { Logger } from '../core/logger';
import type { BotApi } from '../core/telegram/client';
import type { GroupStore } from './groups';

/** Everything a handler needs about the bot whose update it handles. */
export interface BotRuntime {
  bot: ActiveBot;
  /** The bot's own Telegram user id (for rights checks in chats). */
  telegramBotId: number;
  api: BotApi;
  log: Logger;
  /** The bot's own queue, for delayed follow-ups (prompt deletion, join-request expiry, unmuting a whole group). */
  queue: Queue;
}

/** Shared by every bot a verifier process serves. */
export interface VerifierDeps {
  ctx: AppContext;
  groups: GroupStore;
  verifications: BatchWriter<VerificationRecord>;
}
