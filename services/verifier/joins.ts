import type { ChatMemberUpdated, MaybeInaccessibleMessage, Message, User } from 'telegraf/types';
import { isAdminStatus, isMember, maySendMessages } from '../core/telegram/membership';
import { isServiceMessage } from '../core/telegram/updates';
import { checkChannels, forgetAdmins, forgetMembership, isGroupAdmin, rememberMembership } from './membership';
import {
  channelNames,
  deleteEphemeral,
  deleteMessage,
  ephemeralTo,
  liftRestriction,
  logDecision,
  plainChannelNames,
  promptKeyboard,
  recordEphemeralPrompt,
  restrictAndPrompt,
} from './enforce';
import { isTelegramError } from '../core/telegram/errors';
import { onForeignChannelPost } from './sender-chats';
import type { GroupPolicy } from './groups';
import type { BotJob } from './job';
import type { VerificationStatus } from '../core/log-writer';
import { deleteIfEqual } from '../core/redis';
import { RetryLaterError } from '../../queues';
import { text } from './texts';

/** Telegram's account that forwards linked-channel posts into the discussion group. */
const TELEGRAM_SERVICE_USER = 777000;

const memberOf = (m: ChatMemberUpdated['new_chat_member']) => isMember(m as typeof m & { is_member?: boolean });

/** A claim is held only while one join is decided (tens of ms): whoever finds it taken looks again soon. */
const CLAIM_RETRY_MS = 200;

/**
 * KEYS: the join's state at date-1, date and date+1 (the two signals of one join can carry dates a second
 * apart), then the claim. ARGV: owner. Returns 'done', 'busy', or the state found ('' when none) with the
 * claim taken.
 */
const CLAIM = `
local found = ''
for i = 1, 3 do
  local state = redis.call('GET', KEYS[i])
  if state == 'done' then return 'done' end
  if state and found == '' then found = state end
end
if not redis.call('SET', KEYS[4], ARGV[1], 'PX', 15000, 'NX') then return 'busy' end
return found
`;
/** KEYS: state, claim. ARGV: owner. Marks the join done and releases the claim, in one round trip. */
const FINISH = `
redis.call('SET', KEYS[1], 'done', 'EX', 600)
if redis.call('GET', KEYS[2]) == ARGV[1] then redis.call('DEL', KEYS[2]) end
return 1
`;

/**
 * A user is in a protected group: skip bots, admins and whitelisted users; check every channel; all joined →
 * `verified`, else mute and prompt (`restricted`).
 *
 * chat_member and the new_chat_members service message describe the same join (same date, or a second
 * apart when the clock ticked between them), and a killed
 * verifier's jobs run again: the join is claimed with a short lock while it is decided, and marked done only
 * once the decision is recorded (marked "recording" just before, so a run that died in between is not
 * recorded twice). The other signal waits for the claim and then finds it done; a claim whose holder died
 * expires, and the retried job decides the join itself. A re-join two or more seconds later is a join of its own.
 */
export async function verifyJoin(
  job: BotJob,
  group: GroupPolicy,
  user: User,
  joinDate: number,
  threadId?: number,
): Promise<void> {
  if (user.is_bot || group.mode !== 'mute' || !group.channels.length || !group.supergroup) return;
  const { redis } = job;
  const join = job.keys.bot(job.bot.id, 'join', Number(group.chatId), user.id);
  const stateOf = (date: number) => `${join}:${date}:state`;
  const stateKey = stateOf(joinDate);
  const claimKey = `${join}:claim`;
  const owner = `${process.pid}:${Math.random()}`;
  const state = String(
    await redis.eval(CLAIM, 4, stateOf(joinDate - 1), stateKey, stateOf(joinDate + 1), claimKey, owner),
  );
  if (state === 'done') return;
  if (state === 'busy')
    throw new RetryLaterError(Date.now() + CLAIM_RETRY_MS, 'this join is being decided by another worker');
  let finished = false;
  try {
    // An earlier run died while recording its decision: if the row made it, the join is decided.
    if (!(
      state.startsWith('recording:') && (await decisionRecordedSince(job, group, user.id, Number(state.slice(10))))
    )) {
      const record = async (status: VerificationStatus, cached: boolean, errorType?: string) => {
        await redis.set(stateKey, `recording:${Date.now()}`, 'EX', 600);
        await logDecision(job, { chatId: group.chatId, userId: user.id, status, cached, errorType });
      };
      await decideJoin(job, group, user, record, joinDate, threadId);
    }
    await redis.eval(FINISH, 2, stateKey, claimKey, owner);
    finished = true;
  } finally {
    if (!finished) await deleteIfEqual(redis, claimKey, owner).catch(() => {});
  }
}

type RecordDecision = (status: VerificationStatus, cached: boolean, errorType?: string) => Promise<void>;

async function decideJoin(
  job: BotJob,
  group: GroupPolicy,
  user: User,
  record: RecordDecision,
  joinDate: number,
  threadId?: number,
): Promise<void> {
  const chatId = Number(group.chatId);
  if (group.whitelist.has(BigInt(user.id))) return record('skipped', true);
  const { missing, unknown, cached } = await checkChannels(job, group.channels, user.id);
  // Never muted on a check that could not be made; not "verified" either (the group is told the bot cannot see).
  if (!missing.length)
    return unknown.length ? record('error', cached, 'channel_unchecked') : record('verified', cached);
  // Admins are exempt; asked only when there is something to enforce (most joiners are subscribed).
  if (await isGroupAdmin(job, chatId, user.id)) return;
  const outcome = await restrictAndPrompt(job, group, user, {
    missing,
    reason: 'not_subscribed',
    threadId,
    at: joinDate,
  });
  if (outcome === 'restricted') await record('restricted', cached);
  else if (outcome === 'no_rights') await record('error', cached, 'no_rights');
  // Muted and prompted by an earlier run of this job that died before recording it: record it now.
  else if (outcome === 'already' && !(await restrictionRecorded(job, group, user.id)))
    await record('restricted', cached);
  else if (outcome === 'busy')
    throw new RetryLaterError(Date.now() + CLAIM_RETRY_MS, 'another worker is muting this user');
}

/** Whether a decision about this user in this group was recorded at or after `since` (ms). */
async function decisionRecordedSince(job: BotJob, group: GroupPolicy, userId: number, since: number): Promise<boolean> {
  const rows = await job.db.verificationLog.count({
    where: {
      botInstanceId: job.bot.id,
      chatId: group.chatId,
      userId: BigInt(userId),
      createdAt: { gte: new Date(since) },
    },
  });
  return rows > 0;
}

/** Whether the open restriction of this user already has its `restricted` row in the log. */
async function restrictionRecorded(job: BotJob, group: GroupPolicy, userId: number): Promise<boolean> {
  const open = await job.db.restriction.findFirst({
    where: { groupId: group.id, userId: BigInt(userId), liftedAt: null },
    select: { mutedAt: true },
  });
  if (!open) return true;
  const rows = await job.db.verificationLog.count({
    where: {
      botInstanceId: job.bot.id,
      chatId: group.chatId,
      userId: BigInt(userId),
      status: 'restricted',
      createdAt: { gte: open.mutedAt },
    },
  });
  return rows > 0;
}

/** chat_member: joins and admin changes in groups, joins and leaves in channels. */
export async function onChatMember(job: BotJob, update: ChatMemberUpdated): Promise<void> {
  const chatId = update.chat.id;
  const user = update.new_chat_member.user;
  const was = memberOf(update.old_chat_member);
  const is = memberOf(update.new_chat_member);

  if (update.chat.type === 'channel') {
    if (was === is) return;
    await rememberMembership(job, BigInt(chatId), user.id, is);
    if (is) return onChannelJoin(job, chatId, user.id);
    return onChannelLeave(job, chatId, user);
  }

  if (isAdminStatus(update.old_chat_member.status) || isAdminStatus(update.new_chat_member.status)) {
    await forgetAdmins(job, chatId);
  }
  if (was || !is) return;
  const group = await job.groups.get(job.bot.id, chatId);
  if (!group?.enabled) return;
  // Telegram keeps a restriction through a leave and a re-join. One that still lets the user write (an
  // admin's, say) is checked like any join; a mute that holds is an admin's business, unless it is ours.
  if (!maySendMessages(update.new_chat_member as typeof update.new_chat_member & { is_member?: boolean })) {
    const ours = await job.db.restriction.count({
      where: { groupId: group.id, userId: BigInt(user.id), liftedAt: null },
    });
    if (!ours) return;
  }
  await verifyJoin(job, group, user, update.date);
}

/** new_chat_members service message: the fallback when chat_member updates are missing (large groups). */
export async function onNewChatMembers(job: BotJob, message: Message.NewChatMembersMessage): Promise<void> {
  const group = await job.groups.get(job.bot.id, message.chat.id);
  if (!group?.enabled) return;
  // The users who joined, not the admin who added them.
  for (const user of message.new_chat_members)
    await verifyJoin(job, group, user, message.date, message.message_thread_id);
}

/** A user left an enforced channel: mute them again, with a prompt, in every enabled group that requires it. */
async function onChannelLeave(job: BotJob, channelChatId: number, user: User) {
  for (const group of await job.groups.linkedToChannel(job.bot.id, channelChatId)) {
    if (group.mode !== 'mute' || !group.supergroup || group.whitelist.has(BigInt(user.id))) continue;
    const chatId = Number(group.chatId);
    const inGroup = await job.api.call('getChatMember', { chat_id: chatId, user_id: user.id }).catch(() => undefined);
    if (!inGroup || !memberOf(inGroup) || isAdminStatus(inGroup.status)) continue;
    // Muted already: by an admin (theirs stands), or by us (re-prompted below if the prompt is gone).
    if (!maySendMessages(inGroup)) {
      const ours = await job.db.restriction.count({
        where: { groupId: group.id, userId: BigInt(user.id), liftedAt: null },
      });
      if (!ours) continue;
    }
    const { missing, cached } = await checkChannels(job, group.channels, user.id);
    if (!missing.length) continue;
    const outcome = await restrictAndPrompt(job, group, user, { missing, reason: 'left_channel' });
    if (outcome === 'restricted') await logDecision(job, { chatId, userId: user.id, status: 'restricted', cached });
  }
}

/** A muted user joined a channel: when that completes their set, unmute them at once, without a button press. */
async function onChannelJoin(job: BotJob, channelChatId: number, userId: number) {
  const open = await job.db.restriction.findMany({
    where: {
      botInstanceId: job.bot.id,
      userId: BigInt(userId),
      liftedAt: null,
      group: { enabled: true, channelLinks: { some: { channel: { channelId: BigInt(channelChatId) } } } },
    },
    select: { group: { select: { chatId: true } } },
  });
  for (const { group: ref } of open) {
    const group = await job.groups.get(job.bot.id, ref.chatId);
    if (!group) continue;
    const { missing, cached } = await checkChannels(job, group.channels, userId);
    if (missing.length) continue;
    if (await liftRestriction(job, group, userId, 'verified'))
      await logDecision(job, { chatId: group.chatId, userId, status: 'verified', cached, startedAt: Date.now() });
  }
}

/**
 * A message in a protected group from someone not known to be subscribed (members from before protection, or
 * anyone whose channel leave went unseen): non-members lose the message and are muted and prompted. The
 * group's own posts (anonymous admins, the linked channel's automatic forwards), bots, admins and whitelisted
 * users are exempt; a post on behalf of some other channel cannot be traced to a person (sender-chats.ts).
 */
export async function onGroupMessage(job: BotJob, message: Message): Promise<void> {
  const group = await job.groups.get(job.bot.id, message.chat.id);
  if (!group?.enabled || group.mode !== 'mute' || !group.channels.length || !group.supergroup) return;
  const from = message.from;
  if (!from || from.id === TELEGRAM_SERVICE_USER || isServiceMessage(message)) return;
  if ((message as { is_automatic_forward?: boolean }).is_automatic_forward) return;
  const senderChat = (message as { sender_chat?: { id: number; type: string } }).sender_chat;
  // Written on behalf of a chat: `from` is a stand-in (GroupAnonymousBot, Channel_Bot), so this comes first.
  if (senderChat) return onForeignChannelPost(job, group, message, senderChat);
  if (from.is_bot || group.whitelist.has(BigInt(from.id))) return;
  const chatId = message.chat.id;
  const { missing, unknown, cached } = await checkChannels(job, group.channels, from.id);
  if (!missing.length) {
    if (!cached && !unknown.length)
      await logDecision(job, { chatId, userId: from.id, status: 'verified', cached: false });
    return;
  }
  if (await isGroupAdmin(job, chatId, from.id)) return;
  await deleteMessage(job, chatId, message.message_id);
  const outcome = await restrictAndPrompt(job, group, from, {
    missing,
    reason: 'not_subscribed',
    threadId: message.message_thread_id,
    at: message.date,
  });
  if (outcome === 'restricted') await logDecision(job, { chatId, userId: from.id, status: 'restricted', cached });
}

/** The button pressed: a group message, or an ephemeral one (message_id 0, ephemeral_message_id, Bot API 10.2). */
type PressedMessage = MaybeInaccessibleMessage & { ephemeral_message_id?: number };

/**
 * "I've joined": a button bound to a user may be pressed by that user only; a shared one (`v:0`, a prompt naming
 * several) by anyone, who is checked as themselves (someone not muted is told there is nothing to check).
 * Re-checks without the cache; lifts the mute or says what is missing: in a group with ephemeral prompts by a
 * message only the presser sees (their ephemeral prompt edited, or one shown in place of the group prompt).
 */
export async function onVerifyButton(
  job: BotJob,
  group: GroupPolicy,
  boundUserId: number,
  presser: User,
  callbackId: string,
  pressed?: PressedMessage,
) {
  const answer = (t: string, alert = true) =>
    job.api.call('answerCallbackQuery', { callback_query_id: callbackId, text: t, show_alert: alert });
  const shared = boundUserId === 0;
  if (shared) {
    const last = await job.db.restriction.findFirst({
      where: { groupId: group.id, userId: BigInt(presser.id) },
      orderBy: { id: 'desc' },
      select: { liftedAt: true, liftReason: true },
    });
    // Unmuted a moment ago (their channel join did it): as thanked as if the press had.
    if (last?.liftedAt && last.liftReason === 'verified' && Date.now() - last.liftedAt.getTime() < 60_000)
      return void (await answer(text(group.language, 'verified'), false));
    if (!last || last.liftedAt) return void (await answer(text(group.language, 'notMuted')));
  } else if (presser.id !== boundUserId) {
    job.metrics.skippedUpdates.inc({ bot: String(job.bot.id), reason: 'someone_elses_button' });
    job.log.info('button pressed by someone it is not for', { chatId: Number(group.chatId) });
    return void (await answer(text(group.language, 'notYourButton')));
  }
  await forgetMembership(
    job,
    group.channels.map((c) => c.channelId),
    presser.id,
  );
  const { missing } = await checkChannels(job, group.channels, presser.id);
  if (missing.length) {
    if (
      group.promptStyle === 'ephemeral' &&
      (await showMissingToPresser(job, group, presser, callbackId, pressed, missing))
    )
      return void (await job.api.call('answerCallbackQuery', { callback_query_id: callbackId }));
    return void (await answer(text(group.language, 'stillMissing', { channels: plainChannelNames(missing) })));
  }
  const lifted = await liftRestriction(job, group, presser.id, 'verified');
  await answer(text(group.language, 'verified'), false);
  // Pressed after an automatic unmute (they joined the channel first): nothing new to record.
  if (lifted) await logDecision(job, { chatId: group.chatId, userId: presser.id, status: 'verified', cached: false });
}

/**
 * Tells the presser what is still missing where only they see it: their ephemeral prompt is edited in place
 * (editEphemeralMessageText); a press on a group prompt is answered with an ephemeral message shown in place of
 * that prompt for them (Bot API 10.3 `callback_query_id` + `replace_callback_query_message`), which becomes their
 * prompt. False when Telegram refused: the caller answers with an alert instead.
 */
async function showMissingToPresser(
  job: BotJob,
  group: GroupPolicy,
  presser: User,
  callbackId: string,
  pressed: PressedMessage | undefined,
  missing: GroupPolicy['channels'],
): Promise<boolean> {
  const chatId = Number(group.chatId);
  const body = {
    text: text(group.language, 'stillMissing', { channels: channelNames(missing) }),
    parse_mode: 'HTML',
    link_preview_options: { is_disabled: true },
    reply_markup: { inline_keyboard: promptKeyboard(group, presser.id, missing) },
  };
  try {
    if (pressed?.ephemeral_message_id) {
      await job.api
        .call(
          'editEphemeralMessageText' as never,
          {
            chat_id: chatId,
            receiver_user_id: presser.id,
            ephemeral_message_id: pressed.ephemeral_message_id,
            ...body,
          } as never,
        )
        .catch((err: unknown) => {
          // Pressed again with nothing changed: it already says so.
          if (!(isTelegramError(err, 400) && /not modified/i.test(err.description))) throw err;
        });
      return true;
    }
    const open = await job.db.restriction.findFirst({
      where: { groupId: group.id, userId: BigInt(presser.id), liftedAt: null },
      select: { id: true, promptEphemeralId: true },
    });
    if (!open) return false;
    const sent = await job.api.call('sendMessage', {
      chat_id: chatId,
      ...body,
      ...ephemeralTo(presser.id, { callbackQueryId: callbackId, replace: Boolean(pressed?.message_id) }),
    } as never);
    const ephemeralId = (sent as { ephemeral_message_id?: number }).ephemeral_message_id;
    if (!ephemeralId) return true;
    if (open.promptEphemeralId) await deleteEphemeral(job, chatId, presser.id, open.promptEphemeralId);
    await recordEphemeralPrompt(job, group, open.id, presser.id, ephemeralId);
    return true;
  } catch (err) {
    if (!isTelegramError(err, 400) && !isTelegramError(err, 403)) throw err;
    job.log.info('ephemeral answer refused; answering with an alert', {
      chatId,
      reason: err.description,
    });
    return false;
  }
}
