import { randomBytes } from 'node:crypto';
import type { InlineKeyboardButton, MessageEntity, User } from 'telegraf/types';
import { addJob, deletePromptJobId, sendPromptsJobId, type UpdateJobData } from '../../queues';
import { RateLimitedError } from '../core/telegram/errors';
import { traceCarrier } from '../core/tracing';
import { takeSlot } from '../core/telegram/pacing';
import type { ChannelPolicy, GroupPolicy } from './groups';
import type { BotJob } from './job';
import {
  joinButtons,
  notePromptSent,
  persistently,
  plainChannelNames,
  promptText,
  VERIFY_PREFIX,
  type MuteReason,
} from './enforce';
import { fill, text } from './texts';

/**
 * Prompts that keep up with join waves (issue 17, section 3).
 *
 * Telegram lets a bot send about 20 messages a minute to one group (we keep to 19, pacing.ts). One prompt per
 * muted user would leave most of a wave of 1,500 joiners without a prompt for over an hour. So a muted user is
 * put on the group's waiting list (Redis: a sorted set by the time they were muted, and what the prompt needs
 * to say about them), and one sender per group at a time sends the list out:
 * - one waiting user gets today's prompt, with an "I've joined" button bound to them;
 * - several get one prompt naming up to MENTIONS_PER_PROMPT of them (text_mention entities) with one shared
 *   "I've joined" button (`v:0`): whoever presses it is checked as themselves (joins.ts onVerifyButton).
 * A full prompt goes as soon as the group's budget allows it; a partial one waits its turn in a steady stream of
 * one per budget interval (a minute / 19), so that in a wave the budget is spent on prompts that name many.
 *
 * The sender waits for its slots in process (a job handed back delayed would come back behind the wave's own
 * backlog of updates, BullMQ promotes delayed jobs to the back of the queue), at most NAP_BUDGET_MS per run; a
 * longer wait is handed to a continuation job put at the front of the queue (LIFO) that sleeps the rest.
 *
 * The sender is a `send-prompts` job holding the group's claim (`owner`), a key only one run holds: whoever adds
 * a user and finds no claim takes it and queues the job; the job gives the claim up only when the list is empty,
 * in the same Redis step that checks it, so a user added meanwhile is never left without a sender. A sender that
 * dies mid-way is run again by BullMQ (its users are still listed: a prompt may go twice, never not at all); a
 * claim whose job is gone expires, and the next muted user takes it over.
 */

/**
 * Most users one prompt names. Telegram's clients notify at most 50 mentions of one message (limits collected at
 * https://limits.tginfo.me and in Telegram FAQ-style lists; the Bot API documents none); 50 short names stay far
 * below the 4,096 characters of a message.
 */
export const MENTIONS_PER_PROMPT = 50;
/** A name longer than this is cut in a shared prompt (Telegram allows 64 for a first name). */
const NAME_CHARS = 24;
/** Partial prompts go at most this many at once, then one per budget interval. */
const PARTIAL_BURST = 1;
/** How long one run of the sender may spend waiting for slots (well inside SHUTDOWN_TIMEOUT_MS). */
const NAP_BUDGET_MS = 8_000;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const waitingKey = (job: BotJob, chatId: number) => job.keys.bot(job.bot.id, 'prompt-wait', chatId);

/** What a waiting user's prompt says about them. */
interface WaitingUser {
  /** first name */
  n: string;
  /** ids (ChannelPolicy.id) of the channels they are missing */
  m: number[];
  r: MuteReason['reason'];
  /** forum topic they wrote in */
  t?: number;
}

/**
 * KEYS: waiting set, its info hash, the claim. ARGV: user id, now (ms), info JSON, new claim, claim TTL (ms).
 * Lists the user (keeping the time they were first listed) and returns the claim in force, taking it when free.
 */
const LIST = `
redis.call('ZADD', KEYS[1], 'NX', ARGV[2], ARGV[1])
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
local current = redis.call('GET', KEYS[3])
if current then return current end
redis.call('SET', KEYS[3], ARGV[4], 'PX', ARGV[5])
return ARGV[4]
`;
/** KEYS: the claim. ARGV: owner, TTL (ms). 1 when the claim is still this owner's (and extended). */
const KEEP = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;
/** KEYS: waiting set, the claim. ARGV: owner. Gives the claim up when nobody waits (1), else 0. */
const RELEASE_IF_EMPTY = `
if redis.call('ZCARD', KEYS[1]) > 0 then return 0 end
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
`;

/** How long a claim lives without its sender running: two of the group's windows, and a minute more. */
const claimTtlMs = (job: BotJob) => 2 * job.api.sendRates.perGroup.periodMs + 60_000;

/**
 * Puts a muted user on the group's waiting list and makes sure a sender runs. Safe to repeat (a retried job):
 * the user keeps their place, and the sender's job id is its claim's.
 */
export async function queuePrompt(
  job: BotJob,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  why: MuteReason,
): Promise<void> {
  const chatId = Number(group.chatId);
  const key = waitingKey(job, chatId);
  const info: WaitingUser = {
    n: user.first_name,
    m: why.missing.map((c) => c.id),
    r: why.reason,
    ...(why.threadId ? { t: why.threadId } : {}),
  };
  const owner = String(
    await job.redis.eval(
      LIST,
      3,
      key,
      `${key}:info`,
      `${key}:owner`,
      user.id,
      Date.now(),
      JSON.stringify(info),
      randomBytes(9).toString('base64url'),
      claimTtlMs(job),
    ),
  );
  // LIFO: the sender goes ahead of the wave's own backlog of updates in the bot's queue.
  await addJob(
    job.queue,
    'send-prompts',
    // The sender continues the trace of the update that started it.
    { botInstanceId: job.bot.id, chatId, owner, trace: traceCarrier() },
    { jobId: sendPromptsJobId(job.bot.id, chatId, owner), lifo: true },
  );
}

/** Whether the user waits for a group prompt (muted, not named in one yet). */
export async function isWaiting(job: BotJob, chatId: number, userId: number): Promise<boolean> {
  return (await job.redis.zscore(waitingKey(job, chatId), String(userId))) !== null;
}

/** The user no longer needs a prompt (unmuted before it went out). */
export async function unlist(job: BotJob, chatId: number, userIds: Array<number | string>): Promise<void> {
  if (!userIds.length) return;
  const key = waitingKey(job, chatId);
  await job.redis
    .multi()
    .zrem(key, ...userIds.map(String))
    .hdel(`${key}:info`, ...userIds.map(String))
    .exec();
}

/** The `send-prompts` job: sends the group's waiting prompts while it holds the claim and the list is not empty. */
export async function sendWaitingPrompts(job: BotJob, data: UpdateJobData<'send-prompts'>): Promise<void> {
  const { chatId, owner } = data;
  const { redis, db } = job;
  const key = waitingKey(job, chatId);
  const claim = `${key}:owner`;
  const perGroup = job.api.sendRates.perGroup;
  const stream = { count: perGroup.count, periodMs: perGroup.periodMs, burst: PARTIAL_BURST };
  const streamKey = job.keys.bot(job.bot.id, 'prompt-stream', chatId);
  const runStarted = Date.now();
  /**
   * Waits until `at`: here as far as this run's budget goes, the rest in a continuation (a job id of its own, so
   * it is never taken for this one): false when this run is over.
   */
  const waitUntil = async (at: number): Promise<boolean> => {
    await sleep(Math.max(0, Math.min(at, runStarted + NAP_BUDGET_MS) - Date.now()));
    if (Date.now() >= at) return true;
    await redis.eval(KEEP, 1, claim, owner, at - Date.now() + claimTtlMs(job));
    await addJob(
      job.queue,
      'send-prompts',
      { ...data, notBefore: at },
      { jobId: `${sendPromptsJobId(job.bot.id, chatId, owner)}-${at}-${Date.now()}`, lifo: true },
    );
    return false;
  };
  if (data.notBefore && data.notBefore > Date.now() && !(await waitUntil(data.notBefore))) return;
  for (;;) {
    if (!Number(await redis.eval(KEEP, 1, claim, owner, claimTtlMs(job)))) return;
    const ids = await redis.zrange(key, 0, MENTIONS_PER_PROMPT - 1);
    if (!ids.length) {
      if (Number(await redis.eval(RELEASE_IF_EMPTY, 2, key, claim, owner))) return;
      continue;
    }
    const group = await job.groups.get(job.bot.id, chatId);
    if (!group?.enabled || group.mode !== 'mute') {
      // Protection went off meanwhile: /unprotect lifts the mutes, nobody needs a prompt.
      await unlist(job, chatId, ids);
      continue;
    }
    // Still muted by us and not named in a live prompt (a press, a channel join or a retry may have overtaken).
    const rows = await db.restriction.findMany({
      where: { groupId: group.id, userId: { in: ids.map(BigInt) }, liftedAt: null },
      select: { id: true, userId: true, promptMessageId: true, updatedAt: true },
    });
    const lifetimeMs = group.promptLifetimeSeconds * 1000;
    const due = rows.filter((r) => !r.promptMessageId || Date.now() - r.updatedAt.getTime() >= lifetimeMs);
    const dueIds = new Set(due.map((r) => String(r.userId)));
    await unlist(
      job,
      chatId,
      ids.filter((id) => !dueIds.has(id)),
    );
    if (!due.length) continue;

    // A partial prompt waits for its turn in the steady stream; a full one goes as soon as the budget allows.
    if (due.length < MENTIONS_PER_PROMPT) {
      // Told to wait, the slot is promised to this sender: it comes back then, with whoever has joined since.
      const waitMs = await takeSlot(redis, streamKey, stream);
      if (waitMs > 0) {
        if (await waitUntil(Date.now() + waitMs)) continue;
        return;
      }
    }
    const infos = await redis.hmget(`${key}:info`, ...due.map((r) => String(r.userId)));
    const named = due.map((r, i) => ({ row: r, info: parseInfo(infos[i] ?? null) }));
    const prompt = buildPrompt(
      group,
      named.map(({ row, info }) => ({ id: Number(row.userId), first_name: info.n })),
      named.map(({ info }) => info),
    );
    await redis.eval(KEEP, 1, claim, owner, 2 * claimTtlMs(job));
    const sent = await job.api
      .call('sendMessage', {
        chat_id: chatId,
        text: prompt.text,
        ...(prompt.entities ? { entities: prompt.entities } : { parse_mode: 'HTML' as const }),
        ...(prompt.threadId ? { message_thread_id: prompt.threadId } : {}),
        link_preview_options: { is_disabled: true },
        reply_markup: { inline_keyboard: prompt.keyboard },
      })
      .catch((err: unknown) => {
        // The group's minute is used up (by other messages too), or Telegram asked the bot to wait.
        if (err instanceof RateLimitedError) return err;
        throw err;
      });
    if (sent instanceof RateLimitedError) {
      if (await waitUntil(sent.retryAt)) continue;
      return;
    }
    // The prompt is out: recorded even through a database outage, or its users would be prompted again.
    await persistently(job, () =>
      db.restriction.updateMany({
        where: { id: { in: due.map((r) => r.id) }, liftedAt: null },
        data: { promptMessageId: sent.message_id },
      }),
    );
    await notePromptSent(
      job,
      chatId,
      due.map((r) => Number(r.userId)),
      sent.message_id,
      group.promptLifetimeSeconds,
    );
    await addJob(
      job.queue,
      'delete-prompt',
      { botInstanceId: job.bot.id, chatId, messageId: sent.message_id },
      { delay: lifetimeMs, jobId: deletePromptJobId(job.bot.id, chatId, sent.message_id) },
    );
    await unlist(job, chatId, [...dueIds]);
  }
}

function parseInfo(raw: string | null): WaitingUser {
  try {
    const info = raw ? (JSON.parse(raw) as WaitingUser) : undefined;
    if (info && typeof info.n === 'string' && Array.isArray(info.m)) return info;
  } catch {
    // a damaged entry: the user is still named, with every channel of the group
  }
  return { n: '', m: [], r: 'not_subscribed' };
}

interface BuiltPrompt {
  text: string;
  /** set for a shared prompt (plain text with text_mention entities); a single one is HTML */
  entities?: MessageEntity[];
  threadId?: number;
  keyboard: InlineKeyboardButton[][];
}

/** One user: today's prompt. Several: one naming them all, with a shared button. */
export function buildPrompt(
  group: GroupPolicy,
  users: Array<Pick<User, 'id' | 'first_name'>>,
  infos: WaitingUser[],
): BuiltPrompt {
  const missingIds = new Set(infos.flatMap((i) => i.m));
  const missing = missingIds.size ? group.channels.filter((c) => missingIds.has(c.id)) : group.channels;
  const channels: ChannelPolicy[] = missing.length ? missing : group.channels;
  const threads = new Set(infos.map((i) => i.t));
  const threadId = threads.size === 1 ? infos[0]?.t : undefined;
  if (users.length === 1) {
    const user = users[0]!;
    return {
      text: promptText(group, user, channels, infos[0]?.r ?? 'not_subscribed'),
      ...(threadId ? { threadId } : {}),
      keyboard: [
        ...joinButtons(group, channels),
        [{ text: text(group.language, 'verifyButton'), callback_data: `${VERIFY_PREFIX}${user.id}` }],
      ],
    };
  }
  const { text: body, entities } = sharedPromptText(group, users, channels);
  return {
    text: body,
    entities,
    ...(threadId ? { threadId } : {}),
    keyboard: [
      ...joinButtons(group, channels),
      [{ text: text(group.language, 'verifyButton'), callback_data: `${VERIFY_PREFIX}0` }],
    ],
  };
}

/**
 * The shared prompt as plain text with a text_mention entity per user (offsets in UTF-16 code units, as the Bot
 * API counts them): the group's own prompt text when it has one, with {mention} standing for the list of names.
 */
export function sharedPromptText(
  group: GroupPolicy,
  users: Array<Pick<User, 'id' | 'first_name'>>,
  channels: ChannelPolicy[],
): { text: string; entities: MessageEntity[] } {
  const own = group.customPromptText;
  // The names are the point of a shared prompt: a group text without {mention} gets them in front.
  const template = own ? (own.includes('{mention}') ? own : `{mention}\n${own}`) : text(group.language, 'promptMany');
  const channelList = plainChannelNames(channels);
  let out = '';
  const entities: MessageEntity[] = [];
  for (const part of template.split(/(\{mention\})/)) {
    if (part !== '{mention}') {
      out += fill(part, { channels: channelList });
      continue;
    }
    users.forEach((user, i) => {
      if (i) out += ', ';
      const name = shortName(user);
      entities.push({
        type: 'text_mention',
        offset: out.length,
        length: name.length,
        user: { id: user.id, is_bot: false, first_name: user.first_name || name },
      });
      out += name;
    });
  }
  return { text: out, entities };
}

function shortName(user: Pick<User, 'id' | 'first_name'>): string {
  const name = (user.first_name || '').trim() || String(user.id);
  const chars = [...name];
  return chars.length > NAME_CHARS ? `${chars.slice(0, NAME_CHARS - 1).join('')}…` : name;
}
