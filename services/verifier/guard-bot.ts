import type { ChatJoinRequest } from 'telegraf/types';
import {
  addJob,
  guardRequestKey,
  guardTimeoutJobId,
  guardWebAppUrl,
  readGuardRequest,
  writeGuardRequest,
  type GuardRequest,
} from '../../queues';
import type { VerificationReason, VerificationStatus } from '../core/log-writer';
import { isTelegramError } from '../core/telegram/errors';
import { logDecision } from './enforce';
import type { GroupPolicy } from './groups';
import type { BotJob } from './job';
import { promptRequester, settle } from './join-requests';
import { checkChannels, forgetMembership } from './membership';

/**
 * Guard-bot mode (Bot API 10.1). A group that names this bot its guard bot (ChatFullInfo.guard_bot) sends it
 * every join request with a `query_id`, which must be answered within 10 seconds: with
 * answerChatJoinRequestQuery (approve | decline | queue, "queue to leave the decision to other administrators"),
 * or first with sendChatJoinRequestWebApp, which shows the user a Web App and keeps the query answerable while
 * they use it (Bot API reference, ChatJoinRequest.query_id, answerChatJoinRequestQuery, sendChatJoinRequestWebApp).
 *
 * A user already in every channel is approved at once. Any other user is shown our verification Web App (served
 * by the API, GUARD_WEB_APP_PATH): it lists the missing channels and a "check" button, which the API turns into a
 * `guard-check` job here; once every channel is joined the query is approved. A `guard-timeout` job ends the
 * wait: declined, or queued for the admins when the group says so (guard_timeout_action).
 */
export type GuardJoinRequest = ChatJoinRequest & { query_id?: string };

/**
 * How long a query stays answerable after the Web App was sent is not documented; Telegram's clients keep it
 * about an hour (the simulator's default too). The wait ends a minute before, so the answer still lands.
 */
const WEB_APP_MAX_WAIT_S = 3600 - 60;

/** "Bad Request: query is too old and response timeout expired or query ID is invalid" (QUERY_ID_INVALID). */
const isQueryGone = (err: unknown) =>
  isTelegramError(err, 400) && /query is too old|query ID is invalid|QUERY_ID_INVALID/i.test(err.description);

type QueryResult = 'approve' | 'decline' | 'queue';

/** Bot API 10.1 methods that Telegraf's types do not know yet; their answers are `true`. */
function callGuardMethod(
  job: BotJob,
  method: 'answerChatJoinRequestQuery' | 'sendChatJoinRequestWebApp',
  payload: { chat_join_request_query_id: string; result?: QueryResult; web_app_url?: string },
): Promise<unknown> {
  return job.api.call(method as never, payload as never);
}

/** Remembers that Telegram named this bot the group's guard bot (shown by /status, the API and the dashboard). */
export async function noteGuardBot(job: BotJob, group: GroupPolicy, isGuardBot: boolean): Promise<void> {
  const stale = group.isGuardBot !== isGuardBot;
  await job.db.protectedGroup.update({
    where: { id: group.id },
    data: { isGuardBot, guardCheckedAt: new Date() },
  });
  if (stale) await job.groups.changed(job.bot.id, group.chatId);
}

/** A join request that came with a query_id: this bot is the chat's guard bot and must answer within 10 s. */
export async function onGuardQuery(job: BotJob, request: GuardJoinRequest): Promise<void> {
  const queryId = request.query_id!;
  const chatId = request.chat.id;
  const userId = request.from.id;
  const group = await job.groups.get(job.bot.id, chatId);
  if (group && group.isGuardBot !== true) await noteGuardBot(job, group, true);
  // Not protected (or a bot asking): not ours to decide, so the admins decide as they would without a guard.
  if (!group?.enabled || request.from.is_bot) return void (await answerQuietly(job, queryId, 'queue'));

  const exempt = group.whitelist.has(BigInt(userId)) || !group.channels.length;
  const { missing, cached } = exempt ? { missing: [], cached: true } : await checkChannels(job, group.channels, userId);
  if (!missing.length) {
    await decide(job, group, userId, { queryId, result: 'approve', reason: 'guard_at_once', cached });
    return;
  }
  if (!job.webAppBaseUrl) {
    // No public URL for the Web App: the query lapses (the request stays pending) and the requester gets the
    // join-request mode's private message, which approves the request itself once they have joined.
    job.log.debug('guard query without WEB_APP_BASE_URL: messaging the requester instead', { chatId });
    return promptRequester(job, group, request, missing);
  }

  const wait = Math.min(group.promptLifetimeSeconds, WEB_APP_MAX_WAIT_S);
  const now = Date.now();
  const known = await readGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId);
  if (known?.queryId !== queryId || known.state === 'web_app') {
    await writeGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId, {
      queryId,
      state: 'web_app',
      missing: missing.map((c) => c.id),
      checkedAt: now,
      expiresAt: known?.queryId === queryId ? known.expiresAt : now + wait * 1000,
    });
  }
  try {
    await callGuardMethod(job, 'sendChatJoinRequestWebApp', {
      chat_join_request_query_id: queryId,
      web_app_url: guardWebAppUrl(job.webAppBaseUrl, job.bot.id, chatId),
    });
  } catch (err) {
    if (!isQueryGone(err)) throw err;
    // A re-run of this job after the Web App went out: Telegram shows it once per query. Otherwise the query
    // lapsed before the Web App could be shown (a slow queue): the request is still pending, so the requester
    // gets the join-request mode's private message instead.
    if (known?.queryId !== queryId) {
      await job.redis.del(guardRequestKey(job.keys, job.bot.id, chatId, userId));
      return promptRequester(job, group, request, missing);
    }
  }
  await addJob(
    job.queue,
    'guard-timeout',
    { botInstanceId: job.bot.id, chatId, userId, queryId },
    { delay: wait * 1000, jobId: guardTimeoutJobId(job.bot.id, chatId, userId, queryId) },
  );
}

/** The user pressed "check" in the Web App: ask Telegram afresh, approve once every channel is joined. */
export async function onGuardCheck(job: BotJob, chatId: number, userId: number): Promise<void> {
  const request = await readGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId);
  const group = await job.groups.get(job.bot.id, chatId);
  if (!request || request.state !== 'web_app' || !group) return;
  await forgetMembership(
    job,
    group.channels.map((c) => c.channelId),
    userId,
  );
  const { missing } = await checkChannels(job, group.channels, userId);
  if (!missing.length) {
    await decide(job, group, userId, { queryId: request.queryId, result: 'approve', reason: 'guard_web_app' });
    return;
  }
  await writeGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId, {
    ...request,
    missing: missing.map((c) => c.id),
    checkedAt: Date.now(),
  });
}

/** The wait is over: one last look, then decline, or leave the request to the admins. */
export async function onGuardTimeout(job: BotJob, chatId: number, userId: number, queryId: string): Promise<void> {
  const request = await readGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId);
  const group = await job.groups.get(job.bot.id, chatId);
  if (!request || request.queryId !== queryId || request.state !== 'web_app') return;
  if (!group) return void (await answerQuietly(job, queryId, 'queue'));
  const { missing } = await checkChannels(job, group.channels, userId);
  if (!missing.length) {
    await decide(job, group, userId, { queryId, result: 'approve', reason: 'guard_web_app' });
    return;
  }
  const queue = group.guardTimeoutAction === 'queue';
  await decide(job, group, userId, {
    queryId,
    result: queue ? 'queue' : 'decline',
    reason: queue ? 'guard_queued' : 'guard_timeout',
  });
}

const STATUS_OF: Record<QueryResult, VerificationStatus> = {
  approve: 'approved',
  decline: 'declined',
  // Left to the admins: the bot did not decide (verification_log.reason says why).
  queue: 'skipped',
};
const STATE_OF: Record<QueryResult, GuardRequest['state']> = {
  approve: 'approved',
  decline: 'declined',
  queue: 'queued',
};

/**
 * Answers the query once, records the decision and shows it to the Web App. A "check" and the timeout may race:
 * the first to claim the request decides (the claim outlives both); a retry of the same decision goes on.
 * When the query is gone (answered late, or an admin decided meanwhile), approve and decline still reach a
 * request that is pending with the join-request methods; a request that is gone is left as it is.
 */
async function decide(
  job: BotJob,
  group: GroupPolicy,
  userId: number,
  d: { queryId: string; result: QueryResult; reason: VerificationReason; cached?: boolean },
): Promise<void> {
  const chatId = Number(group.chatId);
  const claimKey = `${guardRequestKey(job.keys, job.bot.id, chatId, userId)}:decided:${d.queryId}`;
  const claimed = (await job.redis.set(claimKey, d.result, 'EX', 2 * 3600, 'NX')) === 'OK';
  if (!claimed && (await job.redis.get(claimKey)) !== d.result) return;

  let answered = true;
  try {
    await callGuardMethod(job, 'answerChatJoinRequestQuery', {
      chat_join_request_query_id: d.queryId,
      result: d.result,
    });
  } catch (err) {
    if (!isQueryGone(err)) throw err;
    answered =
      d.result !== 'queue' &&
      (await settle(job, d.result === 'approve' ? 'approveChatJoinRequest' : 'declineChatJoinRequest', chatId, userId));
  }
  const known = await readGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId);
  if (known?.queryId === d.queryId || !known)
    await writeGuardRequest(job.redis, job.keys, job.bot.id, chatId, userId, {
      queryId: d.queryId,
      state: answered ? STATE_OF[d.result] : 'closed',
      missing: d.result === 'approve' ? [] : (known?.missing ?? []),
      checkedAt: Date.now(),
      expiresAt: known?.expiresAt ?? Date.now(),
    });
  if (!answered) return;
  await logDecision(job, {
    chatId,
    userId,
    status: STATUS_OF[d.result],
    cached: d.cached ?? false,
    reason: d.reason,
  });
}

/** Hands a query back to the admins; a query already gone needs nothing more. */
async function answerQuietly(job: BotJob, queryId: string, result: QueryResult): Promise<void> {
  try {
    await callGuardMethod(job, 'answerChatJoinRequestQuery', { chat_join_request_query_id: queryId, result });
  } catch (err) {
    if (!isQueryGone(err)) throw err;
  }
}
