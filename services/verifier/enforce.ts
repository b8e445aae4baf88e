import type { ChatMember, ChatPermissions, InlineKeyboardButton, User } from 'telegraf/types';
import {
  addJob,
  deleteEphemeralPromptJobId,
  deletePromptJobId,
  expireRestrictionJobId,
  RetryLaterError,
  type UpdateJobData,
} from '../../queues';
import type { VerificationReason, VerificationStatus } from '../core/log-writer';
import { deleteIfEqual } from '../core/redis';
import { inSpan, SpanKind } from '../core/tracing';
import { isTelegramError } from '../core/telegram/errors';
import type { ChannelPolicy, GroupPolicy } from './groups';
import {
  allPermissions,
  isAdminStatus,
  restrictedPermissions,
  type FullPermissions,
} from '../core/telegram/membership';
import type { BotJob } from './job';
import { isWaiting, queuePrompt, unlist } from './prompt-waves';
import { escapeHtml, fill, text } from './texts';

/** A muted user may do nothing. */
const MUTED: ChatPermissions = allPermissions(false);

/**
 * Lifting a restriction takes every permission granted: "Pass True for all permissions to lift restrictions
 * from a user" (Bot API, restrictChatMember). Anything less, even exactly the group's default permissions,
 * leaves the user `restricted` (TDLib makes a restriction a plain member only when all rights are granted,
 * DialogParticipantStatus::Restricted), and we would later take our own leftover for an admin's restriction.
 * With everything granted the user is a `member` again and may do what the group's defaults allow.
 */
const LIFTED: ChatPermissions = allPermissions(true);

/**
 * Telegram takes an until_date under 30 s or over 366 days from now as "forever" (restrictChatMember), so a
 * timed mute is kept inside those bounds with a little room for the request's own travel time.
 */
const TIMED_MUTE_MIN_S = 31;
const TIMED_MUTE_MAX_S = 366 * 86_400 - 60;
/**
 * The end of a timed mute, whole seconds as Telegram keeps it; null = until verified. Rounded up: rounding down
 * could take up to a second off the room above, leaving a shortest mute under 30 s by the time Telegram reads it.
 */
function muteEnd(seconds: number): Date | null {
  if (seconds <= 0) return null;
  const clamped = Math.min(Math.max(seconds, TIMED_MUTE_MIN_S), TIMED_MUTE_MAX_S);
  return new Date((Math.ceil(Date.now() / 1000) + clamped) * 1000);
}
const unixSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** How long Redis keeps what a mute's job has done so far ('muted', 'sending'): longer than any hand-back. */
const NOTE_TTL_S = 86_400;
/** Another worker holds the lock on the same user: look again this soon. */
const LOCK_RETRY_MS = 200;

export const VERIFY_PREFIX = 'v:';
export const CHECK_AGAIN_PREFIX = 'jr:';

export function channelLink(channel: ChannelPolicy): string | undefined {
  return channel.inviteLink ?? (channel.username ? `https://t.me/${channel.username}` : undefined);
}

export function channelNames(channels: ChannelPolicy[]): string {
  return channels.map((c) => (c.username ? `@${c.username}` : escapeHtml(c.title))).join(', ');
}

/** For alerts and plain-text messages (no HTML). */
export function plainChannelNames(channels: ChannelPolicy[]): string {
  return channels.map((c) => (c.username ? `@${c.username}` : c.title)).join(', ');
}

export function joinButtons(group: GroupPolicy, channels: ChannelPolicy[]): InlineKeyboardButton[][] {
  return channels.flatMap((c) => {
    const url = channelLink(c);
    return url ? [[{ text: text(group.language, 'joinButton', { title: c.title }), url }]] : [];
  });
}

const mention = (user: Pick<User, 'id' | 'first_name'>) =>
  `<a href="tg://user?id=${user.id}">${escapeHtml(user.first_name || String(user.id))}</a>`;

export function promptText(
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  missing: ChannelPolicy[],
  reason: 'not_subscribed' | 'left_channel',
): string {
  const vars = { mention: mention(user), channels: channelNames(missing) };
  if (group.customPromptText) return fill(escapeHtml(group.customPromptText), vars);
  return text(group.language, reason === 'left_channel' ? 'promptLeft' : 'prompt', vars);
}

export interface Decision {
  chatId: number | bigint;
  userId: number;
  status: VerificationStatus;
  /** Every membership answer came from the cache. */
  cached: boolean;
  errorType?: string;
  /** How a guard-bot join request was decided. */
  reason?: VerificationReason;
  /** Where the decision's latency is measured from: the job's start (when its update arrived) unless given. */
  startedAt?: number;
}

/**
 * Records a decision. Resolves once the row is in PostgreSQL (written in a batch with the decisions of other
 * jobs), so a job completes only with its record safe: a verifier killed before that re-runs the job.
 */
export async function logDecision(job: BotJob, decision: Decision): Promise<void> {
  const { chatId, userId, status, cached } = decision;
  const latencyMs = Date.now() - (decision.startedAt ?? job.startedAt);
  job.metrics.verifications.inc({ bot: String(job.bot.id), status });
  job.metrics.verificationDuration.observe({ bot: String(job.bot.id) }, latencyMs / 1000);
  await inSpan('record decision', SpanKind.INTERNAL, (span) => {
    span.setAttribute('nezuko.decision', status);
    return job.verifications.write({
      botInstanceId: job.bot.id,
      chatId,
      userId,
      status,
      latencyMs,
      cached,
      errorType: decision.errorType ?? null,
      reason: decision.reason ?? null,
      createdAt: new Date(),
    });
  });
}

/**
 * Runs `fn` while holding a short per-(bot, group, user) lock, so two workers never mute, prompt or unmute
 * the same user at once; `busy` when another worker holds it (its decision, made from the same current
 * state, stands). The TTL only matters if this process dies mid-way.
 */
async function withUserLock<T>(job: BotJob, chatId: bigint, userId: number, fn: () => Promise<T>): Promise<T | 'busy'> {
  const key = job.keys.bot(job.bot.id, 'lock', String(chatId), userId);
  const owner = `${process.pid}:${Math.random()}`;
  if ((await job.redis.set(key, owner, 'PX', 15_000, 'NX')) !== 'OK') return 'busy';
  try {
    return await fn();
  } finally {
    await deleteIfEqual(job.redis, key, owner).catch(() => {});
  }
}

export type RestrictOutcome = 'restricted' | 'already' | 'admin' | 'busy' | 'no_rights';

/** An admin's restriction found on a user we mute, put back when our mute ends. */
interface PriorRestriction {
  permissions: FullPermissions;
  /** null = forever */
  until: Date | null;
}

/** Telegram's restriction of the user before ours, unless it is a leftover of an old unmute of ours. */
async function priorRestriction(
  job: BotJob,
  group: Pick<GroupPolicy, 'id'>,
  userId: number,
  current: ChatMember,
): Promise<PriorRestriction | null> {
  if (current.status !== 'restricted') return null;
  // An earlier version lifted our mute "to the group's defaults", which Telegram keeps as a restriction: that
  // one is ours, and the user is lifted properly (relift_pending).
  const last = await job.db.restriction.findFirst({
    where: { groupId: group.id, userId: BigInt(userId) },
    orderBy: { id: 'desc' },
    select: { reliftPending: true },
  });
  if (last?.reliftPending) return null;
  return {
    permissions: restrictedPermissions(current),
    until: current.until_date > 0 ? new Date(current.until_date * 1000) : null,
  };
}

/**
 * Redis note of how far a mute's job got, per (bot, group, user): 'muted' (our restriction is on), 'sending'
 * (the prompt's request left: a run that died there may or may not have sent it), then the prompt's id.
 */
const noteKey = (job: BotJob, chatId: number, userId: number) => job.keys.bot(job.bot.id, 'prompt', chatId, userId);

/** A prompt naming these users went out: their notes name it until its lifetime is over. */
export async function notePromptSent(
  job: BotJob,
  chatId: number,
  userIds: number[],
  messageId: number,
  lifetimeSeconds: number,
): Promise<void> {
  const batch = job.redis.multi();
  for (const userId of userIds) batch.set(noteKey(job, chatId, userId), String(messageId), 'EX', lifetimeSeconds);
  await batch.exec();
}

/** A prompt is gone: its note goes too, unless the note already names a newer prompt. */
export async function forgetPromptNote(job: BotJob, chatId: number, userId: number, messageId: number): Promise<void> {
  await deleteIfEqual(job.redis, noteKey(job, chatId, userId), String(messageId));
}

/**
 * Mutes the user (until the group's mute duration, or forever), records the restriction, schedules a timed
 * mute's end and has the user prompted: naming every missing channel with a join button each and an "I've
 * joined" button. In a group with ephemeral prompts the prompt goes to the user alone; otherwise (and when that
 * fails) the user joins the group's waiting list, whose sender names them in a group prompt, alone or with others
 * in a wave (prompt-waves.ts). A user with a live prompt, or one on its way, is not prompted again, except that
 * a user who only had an ephemeral prompt (Telegram may not have delivered it) and comes back gets a group one;
 * a retried or resumed job continues where the last run stopped (never mutes twice).
 */
export function restrictAndPrompt(
  job: BotJob,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  why: MuteReason,
): Promise<RestrictOutcome> {
  return withUserLock(job, group.chatId, user.id, () => mutePromptAndRecord(job, group, user, why));
}

/** Why a user is muted, and where the prompt goes. */
export interface MuteReason {
  /** The required channels the user is not in (named in the prompt, a join button each). */
  missing: ChannelPolicy[];
  reason: 'not_subscribed' | 'left_channel';
  /** The forum topic the user wrote in: the prompt goes there. */
  threadId?: number;
  /** When the user did what brought them here (Telegram's date, unix seconds), if it was something they did. */
  at?: number;
}

async function mutePromptAndRecord(
  job: BotJob,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  why: MuteReason,
): Promise<Exclude<RestrictOutcome, 'busy'>> {
  const { reason } = why;
  const chatId = Number(group.chatId);
  const { db, redis } = job;
  const open = await db.restriction.findFirst({
    where: { groupId: group.id, userId: BigInt(user.id), liftedAt: null },
  });
  const live = open && Date.now() - open.updatedAt.getTime() < group.promptLifetimeSeconds * 1000;
  if (open && live && open.promptMessageId) return 'already';
  // Muted, and a group prompt naming them is on its way.
  if (open && !open.promptMessageId && (await isWaiting(job, chatId, user.id))) return 'already';
  // Only an ephemeral prompt, which Telegram does not promise to deliver: the user acting again after it (a
  // re-join, a channel leave, a message written since) is shown a group prompt. Something dated before it (a
  // burst written before the mute landed) changes nothing.
  const ephemeralOnly = Boolean(open && live && open.promptEphemeralId);
  if (ephemeralOnly && why.at !== undefined && why.at * 1000 < Math.floor(open!.updatedAt.getTime() / 1000) * 1000)
    return 'already';
  let prior: PriorRestriction | null = null;
  if (!open) {
    const current = await job.api.call('getChatMember', { chat_id: chatId, user_id: user.id }).catch((err) => {
      if (isTelegramError(err, 400)) return undefined;
      throw err;
    });
    // Muted already (by an admin): nothing to enforce, and their mute stands as it is.
    if (current?.status === 'restricted' && !current.can_send_messages) return 'already';
    // Promoted since the admin list was cached (its refresh may still be queued): admins are exempt.
    if (current && isAdminStatus(current.status)) return 'admin';
    // Restricted by an admin but still able to write: muted like anyone, and that restriction comes back after.
    if (current) prior = await priorRestriction(job, group, user.id, current);
  }

  const note = noteKey(job, chatId, user.id);
  // An earlier run of this job got this far: a prompt out (record it), the mute on, or a prompt on its way
  // when the process died. A muted user without a prompt is stuck, so that prompt is sent again: at least once.
  const done = open && !open.promptMessageId ? await redis.get(note) : null;
  if (done && /^\d+$/.test(done)) {
    await recordPrompt(job, group, open!.id, Number(done));
    return 'restricted';
  }
  if (done === 'sending')
    job.log.warn(
      'an earlier run died while sending the prompt; sending it again rather than leave the user muted without one',
      { chatId },
    );

  const row =
    open ??
    (await db.restriction.create({
      // Recorded before the mute: a retry after a failure below finds it and finishes the job, instead of
      // taking our own mute for an admin's.
      data: {
        botInstanceId: job.bot.id,
        groupId: group.id,
        userId: BigInt(user.id),
        reason,
        mutedUntil: muteEnd(group.muteDurationSeconds),
        ...(prior ? { priorPermissions: prior.permissions, priorUntil: prior.until } : {}),
      },
    }));
  if (!done) {
    const mutedUntil = open ? muteEnd(group.muteDurationSeconds) : row.mutedUntil;
    try {
      await job.api.call('restrictChatMember', {
        chat_id: chatId,
        user_id: user.id,
        permissions: MUTED,
        use_independent_chat_permissions: true,
        until_date: mutedUntil ? unixSeconds(mutedUntil) : 0,
      });
    } catch (err) {
      if (
        isTelegramError(err, 400) &&
        /not enough rights|CHAT_ADMIN_REQUIRED|user is an administrator|can't remove chat owner/i.test(err.description)
      ) {
        job.log.warn('cannot mute user', { chatId, reason: err.description });
        if (!open) await db.restriction.delete({ where: { id: row.id } });
        if (/not enough rights|CHAT_ADMIN_REQUIRED/i.test(err.description))
          await recordMissingRight(job, group, 'can_restrict_members');
        return 'no_rights';
      }
      throw err;
    }
    await redis.set(note, 'muted', 'EX', NOTE_TTL_S);
    // A renewed mute (a new prompt for an open restriction) ends later than the first did.
    if (open) await db.restriction.update({ where: { id: row.id }, data: { reason, mutedUntil } });
    if (mutedUntil) {
      await addJob(
        job.queue,
        'expire-restriction',
        { botInstanceId: job.bot.id, restrictionId: row.id },
        {
          delay: Math.max(0, mutedUntil.getTime() - Date.now()),
          jobId: expireRestrictionJobId(job.bot.id, row.id, mutedUntil),
        },
      );
    }
  }

  if (group.promptStyle === 'ephemeral' && !ephemeralOnly) {
    const shown = await sendEphemeralPrompt(job, group, user, why, row.id);
    if (shown) return 'restricted';
  }
  // In the group: the user joins the waiting list, and its sender names them in a prompt (prompt-waves.ts).
  await queuePrompt(job, group, user, why);
  await redis.set(note, 'queued', 'EX', NOTE_TTL_S);
  return 'restricted';
}

/** The user's own "I've joined" keyboard: a join button per missing channel, and the button bound to them. */
export function promptKeyboard(group: GroupPolicy, userId: number, missing: ChannelPolicy[]): InlineKeyboardButton[][] {
  return [
    ...joinButtons(group, missing),
    [{ text: text(group.language, 'verifyButton'), callback_data: `${VERIFY_PREFIX}${userId}` }],
  ];
}

/**
 * The prompt as an ephemeral message only the muted user sees (Bot API 10.3 `ephemeral_message_parameters`).
 * False when Telegram refused it: the caller falls back to a group prompt. Delivery itself is not reported
 * ("not guaranteed ... especially if they are offline"): a user who acts again gets a group prompt then.
 */
async function sendEphemeralPrompt(
  job: BotJob,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  why: MuteReason,
  restrictionId: number,
): Promise<boolean> {
  const chatId = Number(group.chatId);
  const sent = await job.api
    .call('sendMessage', {
      chat_id: chatId,
      text: promptText(group, user, why.missing, why.reason),
      parse_mode: 'HTML',
      link_preview_options: { is_disabled: true },
      reply_markup: { inline_keyboard: promptKeyboard(group, user.id, why.missing) },
      ...ephemeralTo(user.id),
    })
    .catch((err: unknown) => {
      if (!isTelegramError(err, 400) && !isTelegramError(err, 403)) throw err;
      job.log.info('ephemeral prompt refused; prompting in the group', { chatId, reason: err.description });
      return undefined;
    });
  if (!sent) return false;
  const ephemeralId = (sent as { ephemeral_message_id?: number }).ephemeral_message_id;
  if (!ephemeralId) {
    // A Bot API without ephemeral messages posted it in the group: it is a group prompt.
    await notePromptSent(job, chatId, [user.id], sent.message_id, group.promptLifetimeSeconds);
    await recordPrompt(job, group, restrictionId, sent.message_id);
    return true;
  }
  await recordEphemeralPrompt(job, group, restrictionId, user.id, ephemeralId);
  return true;
}

/** Sends a message to this user alone (Bot API 10.3's form; 10.2's top-level receiver_user_id is superseded). */
export function ephemeralTo(userId: number, press?: { callbackQueryId: string; replace: boolean }) {
  return {
    ephemeral_message_parameters: {
      receiver_user_id: userId,
      ...(press ? { callback_query_id: press.callbackQueryId, replace_callback_query_message: press.replace } : {}),
    },
  } as Record<string, unknown>;
}

/** Stores the prompt's id on the restriction and schedules its deletion when its lifetime is over. */
async function recordPrompt(job: BotJob, group: GroupPolicy, restrictionId: number, messageId: number) {
  const chatId = Number(group.chatId);
  // The prompt is out: its id must be recorded even through a database outage, or a retry would prompt again.
  await persistently(job, () =>
    job.db.restriction.update({ where: { id: restrictionId }, data: { promptMessageId: messageId } }),
  );
  await addJob(
    job.queue,
    'delete-prompt',
    { botInstanceId: job.bot.id, chatId, messageId },
    { delay: group.promptLifetimeSeconds * 1000, jobId: deletePromptJobId(job.bot.id, chatId, messageId) },
  );
}

/** Stores the user's ephemeral prompt on their restriction and schedules its deletion at the prompt's lifetime. */
export async function recordEphemeralPrompt(
  job: BotJob,
  group: Pick<GroupPolicy, 'chatId' | 'promptLifetimeSeconds'>,
  restrictionId: number,
  userId: number,
  ephemeralMessageId: number,
): Promise<void> {
  const chatId = Number(group.chatId);
  await persistently(job, () =>
    job.db.restriction.update({ where: { id: restrictionId }, data: { promptEphemeralId: ephemeralMessageId } }),
  );
  await job.redis.set(noteKey(job, chatId, userId), `e${ephemeralMessageId}`, 'EX', group.promptLifetimeSeconds);
  await addJob(
    job.queue,
    'delete-ephemeral-prompt',
    { botInstanceId: job.bot.id, chatId, userId, ephemeralMessageId },
    {
      delay: group.promptLifetimeSeconds * 1000,
      jobId: deleteEphemeralPromptJobId(job.bot.id, chatId, userId, ephemeralMessageId),
    },
  );
}

/** Deletes an ephemeral message; one already gone (deleted, expired) is not an error worth retrying. */
export async function deleteEphemeral(
  job: BotJob,
  chatId: number,
  userId: number,
  ephemeralMessageId: number,
): Promise<void> {
  try {
    await job.api.call(
      'deleteEphemeralMessage' as never,
      {
        chat_id: chatId,
        receiver_user_id: userId,
        ephemeral_message_id: ephemeralMessageId,
      } as never,
    );
  } catch (err) {
    if (!isTelegramError(err, 400) && !isTelegramError(err, 403)) throw err;
  }
}

/** The ephemeral prompt's lifetime is over: delete it; the user stays muted. */
export async function deleteEphemeralPrompt(job: BotJob, data: UpdateJobData<'delete-ephemeral-prompt'>) {
  await deleteEphemeral(job, data.chatId, data.userId, data.ephemeralMessageId);
  await job.db.restriction.updateMany({
    where: {
      botInstanceId: job.bot.id,
      userId: BigInt(data.userId),
      promptEphemeralId: data.ephemeralMessageId,
      group: { chatId: BigInt(data.chatId) },
    },
    data: { promptEphemeralId: null },
  });
  await deleteIfEqual(job.redis, noteKey(job, data.chatId, data.userId), `e${data.ephemeralMessageId}`);
}

/**
 * For a write that records something already done at Telegram: retried (up to a minute, backing off) rather
 * than failing the job, whose retry would do it at Telegram a second time.
 */
export async function persistently<T>(job: BotJob, write: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() - started > 60_000) throw err;
      job.log.warn('recording a done action failed; retrying', {
        attempt,
        error: err instanceof Error ? err.message.split('\n').at(-1) : String(err),
      });
      await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** attempt)));
    }
  }
}

type LiftReason = 'verified' | 'unprotected' | 'manual' | 'bot_removed' | 'expired';
type OpenRestriction = {
  id: number;
  groupId: number;
  promptMessageId: number | null;
  promptEphemeralId: number | null;
  priorPermissions: unknown;
  priorUntil: Date | null;
};

/**
 * The admin's earlier restriction, when there was one and it has not run out: Telegram would take an end
 * less than 30 s away as "forever", so one that close is let go instead.
 */
function priorStillRunning(row: Pick<OpenRestriction, 'priorPermissions' | 'priorUntil'>): PriorRestriction | null {
  if (!row.priorPermissions || typeof row.priorPermissions !== 'object') return null;
  if (row.priorUntil && row.priorUntil.getTime() - Date.now() < 30_000) return null;
  return { permissions: restrictedPermissions(row.priorPermissions), until: row.priorUntil };
}

/**
 * Ends our mute at Telegram: puts back the admin's earlier restriction when there was one (still running),
 * else grants every permission, which makes the user a plain member with the group's defaults.
 */
async function endMute(
  job: BotJob,
  chatId: number,
  userId: number,
  row: Pick<OpenRestriction, 'priorPermissions' | 'priorUntil'>,
): Promise<void> {
  const prior = priorStillRunning(row);
  try {
    await job.api.call(
      'restrictChatMember',
      prior
        ? {
            chat_id: chatId,
            user_id: userId,
            permissions: prior.permissions,
            use_independent_chat_permissions: true,
            until_date: prior.until ? unixSeconds(prior.until) : 0,
          }
        : { chat_id: chatId, user_id: userId, permissions: LIFTED, use_independent_chat_permissions: true },
    );
  } catch (err) {
    // A user who became an admin, or a chat the bot lost its rights in, has nothing to lift; anything else is worth a retry.
    if (!isTelegramError(err, 400)) throw err;
    job.log.info('unmute not applied', { chatId, reason: err.description });
  }
}

/**
 * Lifts the mute the bot made (never one an admin made: only users with an open restriction of ours),
 * deletes the prompt and closes the restriction. False when there was nothing of ours to lift.
 */
export async function liftRestriction(
  job: BotJob,
  group: Pick<GroupPolicy, 'id' | 'chatId'>,
  userId: number,
  liftReason: Exclude<LiftReason, 'expired'>,
): Promise<boolean> {
  return (await withUserLock(job, group.chatId, userId, () => unmuteAndClose(job, group, userId, liftReason))) === true;
}

async function unmuteAndClose(
  job: BotJob,
  group: Pick<GroupPolicy, 'id' | 'chatId'>,
  userId: number,
  liftReason: LiftReason,
): Promise<boolean> {
  const open = await job.db.restriction.findFirst({
    where: { groupId: group.id, userId: BigInt(userId), liftedAt: null },
  });
  if (!open) return false;
  const chatId = Number(group.chatId);
  await endMute(job, chatId, userId, open);
  await closeRestriction(job, chatId, userId, open, liftReason);
  return true;
}

/**
 * Deletes the restriction's prompts (a group prompt only when it names nobody else still muted), takes the user
 * off the waiting list, forgets the job's note and closes the row.
 */
async function closeRestriction(
  job: BotJob,
  chatId: number,
  userId: number,
  row: OpenRestriction,
  liftReason: LiftReason,
) {
  await unlist(job, chatId, [userId]);
  if (row.promptMessageId) {
    const othersNamed = await job.db.restriction.count({
      where: { groupId: row.groupId, promptMessageId: row.promptMessageId, liftedAt: null, id: { not: row.id } },
    });
    if (!othersNamed) await deleteMessage(job, chatId, row.promptMessageId);
  }
  if (row.promptEphemeralId) await deleteEphemeral(job, chatId, userId, row.promptEphemeralId);
  await job.redis.del(noteKey(job, chatId, userId));
  await job.db.restriction.updateMany({
    where: { id: row.id, liftedAt: null },
    data: { liftedAt: new Date(), liftReason },
  });
}

/**
 * A timed mute ran out (its `expire-restriction` job, or the maintenance sweep behind it): the row is closed
 * as `expired` and its prompt deleted. Telegram ends the mute itself at its until_date; ending it here too
 * makes sure of it and puts an admin's earlier restriction back. A mute renewed since ends later: nothing yet.
 */
export async function expireRestriction(job: BotJob, restrictionId: number): Promise<void> {
  const row = await job.db.restriction.findFirst({
    where: { id: restrictionId, botInstanceId: job.bot.id, liftedAt: null },
    select: { userId: true, group: { select: { chatId: true } } },
  });
  if (!row) return;
  const chatId = Number(row.group.chatId);
  const userId = Number(row.userId);
  const outcome = await withUserLock(job, row.group.chatId, userId, async () => {
    const open = await job.db.restriction.findFirst({ where: { id: restrictionId, liftedAt: null } });
    if (!open?.mutedUntil) return;
    // Early (clocks of two machines), or renewed since: come back when it is due.
    if (open.mutedUntil.getTime() > Date.now()) return open.mutedUntil.getTime();
    await endMute(job, chatId, userId, open);
    await closeRestriction(job, chatId, userId, open, 'expired');
  });
  if (outcome === 'busy') throw new RetryLaterError(Date.now() + LOCK_RETRY_MS, 'another worker is handling this user');
  if (typeof outcome === 'number') throw new RetryLaterError(outcome, 'the mute is not over yet');
}

/**
 * One-off repair of a user an earlier version unmuted "to the group's defaults" (restrictions.relift_pending):
 * Telegram kept them `restricted`, with permissions to write and no end. They get every permission, as a
 * lift should have given them, and are a plain member again. A user muted or restricted again since (a newer
 * restriction of ours, or one that stops them writing or ends) is left as they are.
 */
export async function reliftOldUnmute(job: BotJob, restrictionId: number): Promise<void> {
  const { db } = job;
  const row = await db.restriction.findFirst({
    where: { id: restrictionId, botInstanceId: job.bot.id, reliftPending: true },
    select: { groupId: true, userId: true, group: { select: { chatId: true } } },
  });
  if (!row) return;
  const chatId = Number(row.group.chatId);
  const userId = Number(row.userId);
  const outcome = await withUserLock(job, row.group.chatId, userId, async () => {
    const newer = await db.restriction.count({
      where: { groupId: row.groupId, userId: row.userId, id: { gt: restrictionId } },
    });
    if (!newer) {
      const current = await job.api.call('getChatMember', { chat_id: chatId, user_id: userId }).catch((err) => {
        // The group is gone, or the bot is no longer in it: nothing can be done there.
        if (isTelegramError(err, 400) || isTelegramError(err, 403)) return undefined;
        throw err;
      });
      if (current?.status === 'restricted' && current.can_send_messages && !current.until_date)
        await endMute(job, chatId, userId, { priorPermissions: null, priorUntil: null });
    }
    await db.restriction.update({ where: { id: restrictionId }, data: { reliftPending: false } });
  });
  if (outcome === 'busy') throw new RetryLaterError(Date.now() + LOCK_RETRY_MS, 'another worker is handling this user');
}

/** Deleting a message that is already gone is not an error worth retrying. */
export async function deleteMessage(job: BotJob, chatId: number, messageId: number): Promise<void> {
  try {
    await job.api.call('deleteMessage', { chat_id: chatId, message_id: messageId });
  } catch (err) {
    if (!isTelegramError(err, 400) && !isTelegramError(err, 403)) throw err;
  }
}

export async function recordMissingRight(
  job: BotJob,
  group: Pick<GroupPolicy, 'id'>,
  right: 'can_restrict_members' | 'can_delete_messages' | 'can_invite_users',
) {
  await job.db.$executeRaw`
    UPDATE protected_groups SET missing_rights = array_append(missing_rights, ${right}), updated_at = now()
    WHERE id = ${group.id} AND NOT (${right} = ANY(missing_rights))`;
}
