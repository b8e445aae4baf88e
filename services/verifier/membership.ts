import type { ChatMember } from 'telegraf/types';
import { isTelegramError } from '../core/telegram/errors';
import { isMember } from '../core/telegram/membership';
import { channelCheckable, channelUncheckable } from './channel-access';
import type { ChannelPolicy } from './groups';
import type { BotRuntime, VerifierDeps } from './runtime';


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

const cacheKey = (deps: VerifierDeps, rt: BotRuntime, channelId: bigint, userId: number) =>
  deps.ctx.keys.bot(rt.bot.id, 'member', String(channelId), userId);

/**
 * Is the user in every channel? Answers come from Redis when fresh (members ~10 min, non-members ~60 s),
 * else from getChatMember, all channels in parallel.
 */
export async function checkChannels(deps: VerifierDeps, rt: BotRuntime, channels: ChannelPolicy[], userId: number): Promise<CheckResult> {
  const { redis, metrics } = deps.ctx;
  const bot = String(rt.bot.id);
  if (!channels.length) return { missing: [], unknown: [], cached: true };
  const keys = channels.map((c) => cacheKey(deps, rt, c.channelId, userId));
  const cachedValues = await redis.mget(...keys);
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
        const member = await rt.api.call('getChatMember', { chat_id: Number(channel.channelId), user_id: userId });
        const joined = isMember(member as ChatMember & { is_member?: boolean });
        await redis.set(keys[i]!, joined ? '1' : '0', 'EX', jitter(joined ? MEMBER_TTL_S : NON_MEMBER_TTL_S));
        if (!channel.botIsAdmin) await channelCheckable(deps, rt, channel.channelId);
        return joined ? 'member' : 'missing';
      } catch (err) {
        if (isTelegramError(err, 400) && /user not found|PARTICIPANT_ID_INVALID/i.test(err.description)) return 'missing';
        // "member list is inaccessible" (not an admin there), the channel gone, the bot removed: cannot check.
        if (isTelegramError(err, 400) || isTelegramError(err, 403)) {
          await channelUncheckable(deps, rt, channel.channelId, err.description);
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
export async function forgetMembership(deps: VerifierDeps, rt: BotRuntime, channelIds: bigint[], userId: number): Promise<void> {
  if (channelIds.length) await deps.ctx.redis.del(...channelIds.map((id) => cacheKey(deps, rt, id, userId)));
}

export async function rememberMembership(deps: VerifierDeps, rt: BotRuntime, channelId: bigint, userId: number, joined: boolean): Promise<void> {
  await deps.ctx.redis.set(cacheKey(deps, rt, channelId, userId), joined ? '1' : '0', 'EX', jitter(joined ? MEMBER_TTL_S : NON_MEMBER_TTL_S));
}

const ADMINS_TTL_S = 600;

/** Group admins are exempt; their ids are cached per group and refreshed when admin rights change. */
export async function isGroupAdmin(deps: VerifierDeps, rt: BotRuntime, chatId: number, userId: number): Promise<boolean> {
  const { redis } = deps.ctx;
  const key = deps.ctx.keys.bot(rt.bot.id, 'admins', chatId);
  const [exists, isAdmin] = await redis.multi().exists(key).sismember(key, String(userId)).exec().then((r) => r!.map(([, v]) => Number(v)));
  if (exists) return isAdmin === 1;
  const admins = await rt.api.call('getChatAdministrators', { chat_id: chatId });
  // "0" marks the set as loaded even when it would otherwise be empty.
  await redis.multi().del(key).sadd(key, '0', ...admins.map((a) => String(a.user.id))).expire(key, ADMINS_TTL_S).exec();
  return admins.some((a) => a.user.id === userId);
}

export async function forgetAdmins(deps: VerifierDeps, rt: BotRuntime, chatId: number): Promise<void> {
  await deps.ctx.redis.del(deps.ctx.keys.bot(rt.bot.id, 'admins', chatId));
}
