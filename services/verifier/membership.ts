import type { ChatMember } from 'telegraf/types';
import { isTelegramError } from '../core/telegram/errors';
import { isMember } from '../core/telegram/membership';
import { channelCheckable, channelUncheckable } from './channel-access';
import type { ChannelPolicy } from './groups';
import type { BotJob } from './job';

const MEMBER_TTL_S = 600;
const NON_MEMBER_TTL_S = 60;
/** ±10 % so a wave of joins does not expire (and re-query Telegram) all at once. */
const jitter = (seconds: number) => Math.round(seconds * (0.9 + Math.random() * 0.2));

export interface CheckResult {
  /** Channels the user is not in. */
  missing: ChannelPolicy[];
  /** Channels we could not check (the bot is not an admin there); not held against the user. */
  unknown: ChannelPolicy[];
  /** True when every answer came from the cache. */
  cached: boolean;
}

export const membershipCacheKey = (job: BotJob, channelId: bigint, userId: number) =>
  job.keys.bot(job.bot.id, 'member', String(channelId), userId);
const cacheKey = membershipCacheKey;

/**
 * The cached answers: from what the job's page read ahead when it found them all, else one MGET (an answer
 * missing when the page began may have been cached since by another page asking about the same user).
 */
async function readCache(job: BotJob, keys: string[]): Promise<Array<string | null>> {
  const ahead = job.prefetched;
  if (ahead && keys.every((k) => ahead.get(k))) return keys.map((k) => ahead.get(k)!);
  return job.redis.mget(...keys);
}

/** Writes an answer to Redis, and to the page's read-ahead so the page's later updates see it. */
async function writeCache(job: BotJob, key: string, joined: boolean): Promise<void> {
  job.prefetched?.set(key, joined ? '1' : '0');
  await job.redis.set(key, joined ? '1' : '0', 'EX', jitter(joined ? MEMBER_TTL_S : NON_MEMBER_TTL_S));
}

/**
 * Is the user in every channel? Answers come from Redis when fresh (members ~10 min, non-members ~60 s),
 * else from getChatMember, all channels in parallel.
 */
export async function checkChannels(job: BotJob, channels: ChannelPolicy[], userId: number): Promise<CheckResult> {
  const { metrics } = job;
  const bot = String(job.bot.id);
  if (!channels.length) return { missing: [], unknown: [], cached: true };
  const keys = channels.map((c) => cacheKey(job, c.channelId, userId));
  const cachedValues = await readCache(job, keys);
  let allCached = true;
  const results = await Promise.all(
    channels.map(async (channel, i): Promise<'member' | 'missing' | 'unknown'> => {
      const hit = cachedValues[i];
      if (hit === '1' || hit === '0') {
        metrics.membershipCache.inc({ bot, result: 'hit' });
        return hit === '1' ? 'member' : 'missing';
      }
      allCached = false;
      metrics.membershipCache.inc({ bot, result: 'miss' });
      try {
        const member = await job.api.call('getChatMember', { chat_id: Number(channel.channelId), user_id: userId });
        const joined = isMember(member as ChatMember & { is_member?: boolean });
        await writeCache(job, keys[i]!, joined);
        if (!channel.botIsAdmin) await channelCheckable(job, channel.channelId);
        return joined ? 'member' : 'missing';
      } catch (err) {
        if (isTelegramError(err, 400) && /user not found|PARTICIPANT_ID_INVALID/i.test(err.description))
          return 'missing';
        // "member list is inaccessible" (not an admin there), the channel gone, the bot removed: cannot check.
        if (isTelegramError(err, 400) || isTelegramError(err, 403)) {
          await channelUncheckable(job, channel.channelId, err.description);
          return 'unknown';
        }
        throw err;
      }
    }),
  );
  return {
    missing: channels.filter((_, i) => results[i] === 'missing'),
    unknown: channels.filter((_, i) => results[i] === 'unknown'),
    cached: allCached,
  };
}

/** Drops cached answers, before a re-check the user asked for or after they left a channel. */
export async function forgetMembership(job: BotJob, channelIds: bigint[], userId: number): Promise<void> {
  const keys = channelIds.map((id) => cacheKey(job, id, userId));
  for (const key of keys) job.prefetched?.delete(key);
  if (keys.length) await job.redis.del(...keys);
}

export async function rememberMembership(
  job: BotJob,
  channelId: bigint,
  userId: number,
  joined: boolean,
): Promise<void> {
  await writeCache(job, cacheKey(job, channelId, userId), joined);
}

const ADMINS_TTL_S = 600;

/** Group admins are exempt; their ids are cached per group and refreshed when admin rights change. */
export async function isGroupAdmin(job: BotJob, chatId: number, userId: number): Promise<boolean> {
  const { redis } = job;
  const key = job.keys.bot(job.bot.id, 'admins', chatId);
  const [exists, isAdmin] = await redis
    .multi()
    .exists(key)
    .sismember(key, String(userId))
    .exec()
    .then((r) => r!.map(([, v]) => Number(v)));
  if (exists) return isAdmin === 1;
  const admins = await job.api.call('getChatAdministrators', { chat_id: chatId });
  // "0" marks the set as loaded even when it would otherwise be empty.
  await redis
    .multi()
    .del(key)
    .sadd(key, '0', ...admins.map((a) => String(a.user.id)))
    .expire(key, ADMINS_TTL_S)
    .exec();
  return admins.some((a) => a.user.id === userId);
}

export async function forgetAdmins(job: BotJob, chatId: number): Promise<void> {
  await job.redis.del(job.keys.bot(job.bot.id, 'admins', chatId));
}
