import type { ChatPermissions, InlineKeyboardButton, User } from 'telegraf/types';
import type { VerificationStatus } from '../core/log-writer';
import { inSpan, SpanKind } from '../core/tracing';
import { isTelegramError } from '../core/telegram/errors';
import type { ChannelPolicy, GroupPolicy } from './groups';
import { isAdminStatus } from '../core/telegram/membership';
import type { BotRuntime, VerifierDeps } from './runtime';
import { escapeHtml, fill, text } from './texts';

/** A muted user may do nothing; granted back on success from the group's own defaults. */
const MUTED: ChatPermissions = {
  can_send_messages: false,
  can_send_audios: false,
  can_send_documents: false,
  can_send_photos: false,
  can_send_videos: false,
  can_send_video_notes: false,
  can_send_voice_notes: false,
  can_send_polls: false,
  can_send_other_messages: false,
  can_add_web_page_previews: false,
  can_change_info: false,
  can_invite_users: false,
  can_pin_messages: false,
  can_manage_topics: false,
};

/** Telegram treats until_date under 30 s or over 366 days as forever; 0 says forever plainly. */
const untilDate = (seconds: number) => (seconds > 0 ? Math.floor(Date.now() / 1000) + seconds : 0);

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

const mention = (user: Pick<User, 'id' | 'first_name'>) => `<a href="tg://user?id=${user.id}">${escapeHtml(user.first_name || String(user.id))}</a>`;

export function promptText(group: GroupPolicy, user: Pick<User, 'id' | 'first_name'>, missing: ChannelPolicy[], reason: 'not_subscribed' | 'left_channel'): string {
  const vars = { mention: mention(user), channels: channelNames(missing) };
  if (group.customPromptText) return fill(escapeHtml(group.customPromptText), vars);
  return text(group.language, reason === 'left_channel' ? 'promptLeft' : 'prompt', vars);
}

/**
 * Records a decision. Resolves once the row is in PostgreSQL (written in a batch with the decisions of other
 * jobs), so a job completes only with its record safe: a verifier killed before that re-runs the job.
 */
export async function logDecision(deps: VerifierDeps, rt: BotRuntime, chatId: number | bigint, userId: number, status: VerificationStatus, startedAt: number, cached: boolean, errorType?: string): Promise<void> {
  const latencyMs = Date.now() - startedAt;
  deps.ctx.metrics.verifications.inc({ bot: String(rt.bot.id), status });
  deps.ctx.metrics.verificationDuration.observe({ bot: String(rt.bot.id) }, latencyMs / 1000);
  await inSpan('record decision', SpanKind.INTERNAL, (span) => {
    span.setAttribute('nezuko.decision', status);
    return deps.verifications.write({ botInstanceId: rt.bot.id, chatId, userId, status, latencyMs, cached, errorType: errorType ?? null, createdAt: new Date() });
  });
}

const UNLOCK = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;

/**
 * Runs `fn` while holding a short per-(bot, group, user) lock, so two workers never mute, prompt or unmute
 * the same user at once; `busy` when another worker holds it (its decision, made from the same current
 * state, stands). The TTL only matters if this process dies mid-way.
 */
async function withUserLock<T>(deps: VerifierDeps, rt: BotRuntime, chatId: bigint, userId: number, fn: () => Promise<T>): Promise<T | 'busy'> {
  const key = deps.ctx.keys.bot(rt.bot.id, 'lock', String(chatId), userId);
  const owner = `${process.pid}:${Math.random()}`;
  if ((await deps.ctx.redis.set(key, owner, 'PX', 15_000, 'NX')) !== 'OK') return 'busy';
  try {
    return await fn();
  } finally {
    await deps.ctx.redis.eval(UNLOCK, 1, key, owner).catch(() => {});
  }
}

export type RestrictOutcome = 'restricted' | 'already' | 'admin' | 'busy' | 'no_rights';

/**
 * Mutes the user (until the group's mute duration, or forever), sends one prompt naming every missing
 * channel with a join button each and an "I've joined" button bound to this user, records the restriction
 * and schedules the prompt's deletion. A user with a live prompt is not prompted again.
 */
export function restrictAndPrompt(
  deps: VerifierDeps,
  rt: BotRuntime,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  missing: ChannelPolicy[],
  reason: 'not_subscribed' | 'left_channel',
  threadId?: number,
): Promise<RestrictOutcome> {
  return withUserLock(deps, rt, group.chatId, user.id, () => mutePromptAndRecord(deps, rt, group, user, missing, reason, threadId));
}

async function mutePromptAndRecord(
  deps: VerifierDeps,
  rt: BotRuntime,
  group: GroupPolicy,
  user: Pick<User, 'id' | 'first_name'>,
  missing: ChannelPolicy[],
  reason: 'not_subscribed' | 'left_channel',
  threadId?: number,
): Promise<Exclude<RestrictOutcome, 'busy'>> {
  const chatId = Number(group.chatId);
  const { db } = deps.ctx;
  const open = await db.restriction.findFirst({ where: { groupId: group.id, userId: BigInt(user.id), liftedAt: null } });
  const promptLive = open?.promptMessageId && Date.now() - open.updatedAt.getTime() < group.promptLifetimeSeconds * 1000;
  if (open && promptLive) return 'already';
  if (!open) {
    // An admin's mute stands as it is: ours would be lifted later, and theirs with it.
    const current = await rt.api.call('getChatMember', { chat_id: chatId, user_id: user.id }).catch((err) => {
      if (isTelegramError(err, 400)) return undefined;
      throw err;
    });
    if (current?.status === 'restricted' && !current.can_send_messages) return 'already';
    // Promoted since the admin list was cached (its refresh may still be queued): admins are exempt.
    if (current && isAdminStatus(current.status)) return 'admin';
  }

  // A prompt is sent at most once per mute: its fate is noted in Redis around the send, so a run of this
  // job that died after sending (before the database heard of it) is not followed by a second prompt.
  const promptKey = deps.ctx.keys.bot(rt.bot.id, 'prompt', chatId, user.id);
  if (open && !open.promptMessageId) {
    const sent = await deps.ctx.redis.get(promptKey);
    if (sent) {
      if (/^\d+$/.test(sent)) await recordPrompt(deps, rt, group, open.id, Number(sent));
      else rt.log.warn('an earlier run died while sending the prompt; not sending it twice', { chatId });
      return 'restricted';
    }
  }

  const mutedUntil = group.muteDurationSeconds > 0 ? new Date(Date.now() + group.muteDurationSeconds * 1000) : null;
  // Recorded before the mute: a retry after a failure below finds it and finishes the job, instead of
  // taking our own mute for an admin's.
  const row = open ?? (await db.restriction.create({ data: { botInstanceId: rt.bot.id, groupId: group.id, userId: BigInt(user.id), reason, mutedUntil } }));
  try {
    await rt.api.call('restrictChatMember', {
      chat_id: chatId,
      user_id: user.id,
      permissions: MUTED,
      use_independent_chat_permissions: true,
      until_date: untilDate(group.muteDurationSeconds),
    });
  } catch (err) {
    if (isTelegramError(err, 400) && /not enough rights|CHAT_ADMIN_REQUIRED|user is an administrator|can't remove chat owner/i.test(err.description)) {
      rt.log.warn('cannot mute user', { chatId, reason: err.description });
      if (!open) await db.restriction.delete({ where: { id: row.id } });
      if (/not enough rights|CHAT_ADMIN_REQUIRED/i.test(err.description)) await recordMissingRight(deps, group, 'can_restrict_members');
      return 'no_rights';
    }
    throw err;
  }

  // 'sending' (noted as the request leaves, after any pacing wait) survives only a process that died
  // mid-request; an error we see means it was not sent.
  const prompt = await rt.api.call('sendMessage', {
    chat_id: chatId,
    text: promptText(group, user, missing, reason),
    parse_mode: 'HTML',
    ...(threadId ? { message_thread_id: threadId } : {}),
    link_preview_options: { is_disabled: true },
    reply_markup: {
      inline_keyboard: [...joinButtons(group, missing), [{ text: text(group.language, 'verifyButton'), callback_data: `${VERIFY_PREFIX}${user.id}` }]],
    },
  }, { beforeRequest: () => deps.ctx.redis.set(promptKey, 'sending', 'EX', group.promptLifetimeSeconds) }).catch(async (err: unknown) => {
    await deps.ctx.redis.del(promptKey);
    throw err;
  });

  await deps.ctx.redis.set(promptKey, String(prompt.message_id), 'EX', group.promptLifetimeSeconds);
  if (open?.promptMessageId) await deletePrompt(rt, chatId, open.promptMessageId);
  await db.restriction.update({ where: { id: row.id }, data: { reason, mutedUntil } });
  await recordPrompt(deps, rt, group, row.id, prompt.message_id);
  return 'restricted';
}

/** Stores the prompt's id on the restriction and schedules its deletion when its lifetime is over. */
async function recordPrompt(deps: VerifierDeps, rt: BotRuntime, group: GroupPolicy, restrictionId: number, messageId: number) {
  const chatId = Number(group.chatId);
  // The prompt is out: its id must be recorded even through a database outage, or a retry would prompt again.
  await persistently(rt, () => deps.ctx.db.restriction.update({ where: { id: restrictionId }, data: { promptMessageId: messageId } }));
  await rt.queue.add(
    'delete-prompt',
    { botInstanceId: rt.bot.id, chatId, messageId },
    { delay: group.promptLifetimeSeconds * 1000, jobId: `p-${rt.bot.id}-${-chatId}-${messageId}` },
  );
}

/**
 * For a write that records something already done at Telegram: retried (up to a minute, backing off) rather
 * than failing the job, whose retry would do it at Telegram a second time.
 */
async function persistently<T>(rt: BotRuntime, write: () => Promise<T>): Promise<T> {
  const started = Date.now();
  for (let attempt = 1; ; attempt++) {
    try {
      return await write();
    } catch (err) {
      if (Date.now() - started > 60_000) throw err;
      rt.log.warn('recording a done action failed; retrying', { attempt, error: err instanceof Error ? err.message.split('\n').at(-1) : String(err) });
      await new Promise((r) => setTimeout(r, Math.min(5_000, 200 * 2 ** attempt)));
    }
  }
}

/** The group's own default permissions, so a verified user is not left half-restricted. */
async function defaultPermissions(rt: BotRuntime, chatId: number): Promise<ChatPermissions> {
  const chat = await rt.api.call('getChat', { chat_id: chatId });
  return ('permissions' in chat && chat.permissions) || { can_send_messages: true };
}

/**
 * Lifts the mute the bot made (never one an admin made: only users with an open restriction of ours),
 * deletes the prompt and closes the restriction. False when there was nothing of ours to lift.
 */
export async function liftRestriction(
  deps: VerifierDeps,
  rt: BotRuntime,
  group: Pick<GroupPolicy, 'id' | 'chatId'>,
  userId: number,
  liftReason: 'verified' | 'unprotected' | 'manual' | 'bot_removed',
): Promise<boolean> {
  return (await withUserLock(deps, rt, group.chatId, userId, () => unmuteAndClose(deps, rt, group, userId, liftReason))) === true;
}

async function unmuteAndClose(
  deps: VerifierDeps,
  rt: BotRuntime,
  group: Pick<GroupPolicy, 'id' | 'chatId'>,
  userId: number,
  liftReason: 'verified' | 'unprotected' | 'manual' | 'bot_removed',
): Promise<boolean> {
  const { db } = deps.ctx;
  const open = await db.restriction.findFirst({ where: { groupId: group.id, userId: BigInt(userId), liftedAt: null } });
  if (!open) return false;
  const chatId = Number(group.chatId);
  try {
    await rt.api.call('restrictChatMember', {
      chat_id: chatId,
      user_id: userId,
      permissions: await defaultPermissions(rt, chatId),
      use_independent_chat_permissions: true,
    });
  } catch (err) {
    // A user who left, or became an admin, has nothing to lift; anything else is worth a retry.
    if (!isTelegramError(err, 400)) throw err;
    rt.log.info('unmute not applied', { chatId, reason: err.description });
  }
  if (open.promptMessageId) await deletePrompt(rt, chatId, open.promptMessageId);
  await db.restriction.updateMany({ where: { id: open.id, liftedAt: null }, data: { liftedAt: new Date(), liftReason } });
  return true;
}

/** Deleting a message that is already gone is not an error worth retrying. */
export async function deletePrompt(rt: BotRuntime, chatId: number, messageId: number): Promise<void> {
  try {
    await rt.api.call('deleteMessage', { chat_id: chatId, message_id: messageId });
  } catch (err) {
    if (!isTelegramError(err, 400) && !isTelegramError(err, 403)) throw err;
  }
}

export async function recordMissingRight(deps: VerifierDeps, group: Pick<GroupPolicy, 'id'>, right: 'can_restrict_members' | 'can_delete_messages' | 'can_invite_users') {
  await deps.ctx.db.$executeRaw`
    UPDATE protected_groups SET missing_rights = array_append(missing_rights, ${right}), updated_at = now()
    WHERE id = ${group.id} AND NOT (${right} = ANY(missing_rights))`;
}
