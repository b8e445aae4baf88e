import type { Redis } from 'ioredis';
import type { JobQueue } from '../../queues';
import type { ActiveBot } from '../core/bots';
import type { PrismaClient } from '../core/db';
import type { BatchWriter, VerificationRecord } from '../core/log-writer';
import type { Logger } from '../core/logger';
import type { Metrics } from '../core/metrics';
import type { Keyspace } from '../core/redis';
import type { BotApi } from '../core/telegram/client';
import type { GroupStore } from './groups';

/** What one verifier process shares among the bots it serves. */
export interface VerifierShared {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
  metrics: Metrics;
  groups: GroupStore;
  verifications: BatchWriter<VerificationRecord>;
  /** How many updates of one bot this process handles at once (VERIFIER_CONCURRENCY); 20 when not given. */
  updateConcurrency?: number;
  /** Set when the verifier shuts down: pages hand their updates not yet started off, so they finish at once. */
  stopping?: { requested: boolean };
  /** WEB_APP_BASE_URL: where guard-bot join requests send their verification Web App (unset = no Web App). */
  webAppBaseUrl?: string;
}

/** One bot this process serves: its door to Telegram, its logger and its own queue. */
export interface BotScope extends VerifierShared {
  bot: ActiveBot;
  /** The bot's own Telegram user id (for rights checks in chats). */
  telegramBotId: number;
  api: BotApi;
  log: Logger;
  /** The bot's own queue, for delayed follow-ups (prompt deletion, join-request expiry, paced unmutes). */
  queue: JobQueue<'updates'>;
}

/** Everything a handler works with while it handles one job of one bot. */
export interface BotJob extends BotScope {
  /** When the job's update reached the poller (ms since epoch), or when a follow-up job started: decision latency counts from it. */
  startedAt: number;
  /**
   * Membership answers the job's page read from Redis ahead, with its claims (null: not cached). Only answers
   * about the page's own users; kept in step by whatever writes or drops one.
   */
  prefetched?: Map<string, string | null>;
}
