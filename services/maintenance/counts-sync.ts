import { setTimeout as sleep } from 'node:timers/promises';
import type { Redis } from 'ioredis';
import { loadActiveBots, type ActiveBot } from '../core/bots';
import type { Config } from '../core/config';
import { announceGroupChange } from '../../queues';
import type { PrismaClient } from '../core/db';
import type { Logger } from '../core/logger';
import type { Metrics } from '../core/metrics';
import type { Keyspace } from '../core/redis';
import { BotApi, type ApiCallRecord } from '../core/telegram/client';
import type { Cooldowns } from '../core/telegram/cooldowns';
import { sharedBreakerState } from '../core/telegram/breaker-state';
import { BotUnavailableError, describeError, RateLimitedError } from '../core/telegram/errors';
import { takeSlot } from '../core/telegram/pacing';

/**
 * Counts sync: `getChatMemberCount` for every enabled group (→ protected_groups.member_count) and every channel
 * an enabled group requires (→ enforced_channels.subscriber_count), for each active bot.
 *
 * - Paced per bot (COUNTS_SYNC_CALLS_PER_SECOND, a GCRA bucket in Redis of its own, so the sync never takes
 *   the send slots prompts need), and through the bot's BotApi, so a 429's `retry_after` holds back this
 *   bot's calls in every process.
 * - Bots run side by side (a few at a time), so one slow or rate-limited bot does not delay the others.
 * - One chat failing (chat not found, bot kicked, 403) is logged and counted; the rest go on. Its last known
 *   count stays, and `last_sync_at` shows how old it is.
 * - A bot whose circuit breaker is open (as any process recorded it in Redis) is skipped; one whose breaker
 *   opens during the sync, or whose `retry_after` is longer than a run should wait, has its remaining chats
 *   deferred to the next run.
 */

/** Bots synced at once: each is paced on its own, this only bounds the work in flight in this process. */
const BOTS_AT_ONCE = 4;
/** A `retry_after` up to this long is waited out; a longer one defers the bot's remaining chats to the next run. */
export const MAX_RATE_LIMIT_WAIT_MS = 10_000;

export type CountsOutcome = 'ok' | 'failed' | 'deferred' | 'skipped';

export interface CountsSyncDeps {
  db: PrismaClient;
  redis: Redis;
  keys: Keyspace;
  cooldowns: Cooldowns;
  metrics: Metrics;
  log: Logger;
  config: Pick<Config, 'TOKEN_ENCRYPTION_KEY' | 'TELEGRAM_API_ROOT' | 'COUNTS_SYNC_CALLS_PER_SECOND'>;
  /** Receives one record per Telegram call, for the api_call_log. */
  onCall?: (record: ApiCallRecord) => void;
}

export interface CountsSyncResult {
  bots: number;
  /** Bots skipped because their circuit breaker was open. */
  skippedBots: number;
  synced: number;
  failed: number;
  /** Chats left for the next run (long retry_after, breaker opened, shutdown). */
  deferred: number;
  /** Chats whose count differs from the one stored before. */
  changed: number;
}

interface SyncTarget {
  kind: 'group' | 'channel';
  id: number;
  chatId: bigint;
  count: number | null;
}

export async function syncCounts(
  deps: CountsSyncDeps,
  options: { signal?: AbortSignal } = {},
): Promise<CountsSyncResult> {
  const bots = await loadActiveBots(deps.db, deps.config);
  const result: CountsSyncResult = { bots: bots.length, skippedBots: 0, synced: 0, failed: 0, deferred: 0, changed: 0 };
  let next = 0;
  const worker = async () => {
    for (let bot = bots[next++]; bot; bot = bots[next++]) await syncBot(deps, bot, result, options.signal);
  };
  await Promise.all(Array.from({ length: Math.min(BOTS_AT_ONCE, bots.length) }, worker));
  return result;
}

async function syncBot(
  deps: CountsSyncDeps,
  bot: ActiveBot,
  result: CountsSyncResult,
  signal?: AbortSignal,
): Promise<void> {
  const { db, metrics } = deps;
  const log = deps.log.child({ botId: bot.id });
  const label = String(bot.id);
  const count = (outcome: CountsOutcome, n = 1) => n && metrics.countsSyncChats.inc({ bot: label, outcome }, n);

  const [groups, channels] = await Promise.all([
    db.protectedGroup.findMany({
      where: { botInstanceId: bot.id, enabled: true, botRemovedAt: null },
      select: { id: true, chatId: true, memberCount: true },
      orderBy: { id: 'asc' },
    }),
    db.enforcedChannel.findMany({
      where: { botInstanceId: bot.id, groupLinks: { some: { group: { enabled: true, botRemovedAt: null } } } },
      select: { id: true, channelId: true, subscriberCount: true },
      orderBy: { id: 'asc' },
    }),
  ]);
  const targets: SyncTarget[] = [
    ...groups.map((g) => ({ kind: 'group' as const, id: g.id, chatId: g.chatId, count: g.memberCount })),
    ...channels.map((c) => ({ kind: 'channel' as const, id: c.id, chatId: c.channelId, count: c.subscriberCount })),
  ];
  if (!targets.length) return;

  const breaker = await sharedBreakerState(deps.redis, deps.keys, bot.id);
  if (breaker && breaker !== 'closed') {
    result.skippedBots++;
    count('skipped', targets.length);
    log.info('counts sync skipped this bot: its circuit breaker is open', { breaker, chats: targets.length });
    return;
  }

  const api = new BotApi({
    botInstanceId: bot.id,
    token: bot.token,
    apiRoot: deps.config.TELEGRAM_API_ROOT,
    redis: deps.redis,
    keys: deps.keys,
    cooldowns: deps.cooldowns,
    metrics,
    log,
    onCall: deps.onCall,
  });
  const pace = { count: 1, periodMs: 1000 / deps.config.COUNTS_SYNC_CALLS_PER_SECOND };
  const paceKey = deps.keys.bot(bot.id, 'counts-sync-pace');
  const changedGroups = new Set<bigint>();
  const changedChannels: number[] = [];

  for (let i = 0; i < targets.length; i++) {
    const target = targets[i]!;
    let members: number;
    try {
      members = await getCount(
        api,
        target.chatId,
        async () => {
          for (
            let waitMs = await takeSlot(deps.redis, paceKey, pace);
            waitMs > 0;
            waitMs = await takeSlot(deps.redis, paceKey, pace)
          )
            await sleep(waitMs, undefined, { signal });
        },
        signal,
      );
    } catch (err) {
      if (err instanceof RateLimitedError || err instanceof BotUnavailableError || signal?.aborted) {
        const left = targets.length - i;
        result.deferred += left;
        count('deferred', left);
        const why =
          err instanceof RateLimitedError
            ? `rate limited until ${new Date(err.retryAt).toISOString()}`
            : err instanceof BotUnavailableError
              ? 'circuit breaker opened'
              : 'shutting down';
        log.warn('counts sync deferred the rest of this bot to the next run', { reason: why, deferred: left });
        break;
      }
      result.failed++;
      count('failed');
      log.warn('counts sync: getChatMemberCount failed', {
        [target.kind === 'group' ? 'chatId' : 'channelId']: String(target.chatId),
        error: describeError(err),
      });
      continue;
    }
    const now = new Date();
    if (target.kind === 'group') {
      await db.protectedGroup.updateMany({ where: { id: target.id }, data: { memberCount: members, lastSyncAt: now } });
      if (members !== target.count) changedGroups.add(target.chatId);
    } else {
      await db.enforcedChannel.updateMany({
        where: { id: target.id },
        data: { subscriberCount: members, lastSyncAt: now },
      });
      if (members !== target.count) changedChannels.push(target.id);
    }
    if (members !== target.count) result.changed++;
    result.synced++;
    count('ok');
  }

  // Readers that cache groups and channels (the admin API) drop their copies on a group change; a channel's
  // count shows in the answers for the groups that require it, so those count as changed too.
  if (changedChannels.length) {
    const linked = await db.protectedGroup.findMany({
      where: { botInstanceId: bot.id, channelLinks: { some: { channelId: { in: changedChannels } } } },
      select: { chatId: true },
    });
    for (const g of linked) changedGroups.add(g.chatId);
  }
  for (const chatId of changedGroups)
    await announceGroupChange(deps, bot.id, chatId).catch((err) =>
      log.warn('could not announce a group change', { err }),
    );
}

/**
 * One getChatMemberCount, paced. A `retry_after` the BotApi hands back (longer than it waits in place) is
 * waited out here when short enough, then the same chat is asked again; a longer one is thrown to the caller.
 */
async function getCount(api: BotApi, chatId: bigint, pace: () => Promise<void>, signal?: AbortSignal): Promise<number> {
  for (;;) {
    signal?.throwIfAborted();
    await pace();
    try {
      return await api.call('getChatMemberCount', { chat_id: Number(chatId) });
    } catch (err) {
      if (!(err instanceof RateLimitedError)) throw err;
      const waitMs = err.retryAt - Date.now();
      if (waitMs > MAX_RATE_LIMIT_WAIT_MS) throw err;
      await sleep(Math.max(0, waitMs) + 5, undefined, { signal });
    }
  }
}
