import type { Job } from 'bullmq';
import { addJobs, sortError, updateJobId, type JobSpec, type UpdateJobData } from '../../queues';
import { errorFingerprint } from '../core/logger';
import { deleteIfEqual } from '../core/redis';
import { describeError } from '../core/telegram/errors';
import { inSpan, SpanKind } from '../core/tracing';
import type { ActiveBot } from '../core/bots';
import type { GroupPolicy } from './groups';
import type { BotJob } from './job';
import { membershipCacheKey } from './membership';

/**
 * A page is one getUpdates batch of a bot. Its updates are handled concurrently (bounded per bot and process,
 * like the jobs were), one user's updates in one chat in order. Each update is claimed for the page and marked
 * done once handled, so a page that runs again (a killed verifier, a re-delivered batch cut differently) never
 * acts twice on an update. An update that has to wait leaves the page as a delayed job of its own, with its reason.
 */

/** How long a page's claim on an update lasts if its process dies: then another page or job may take it. */
const CLAIM_MS = 30_000;
/** A handled update stays marked as long as Telegram may deliver it again (it keeps unconfirmed updates 24 h). */
const DONE_S = 86_400;
/** A failed update is handed off to run again as its own job this soon (its attempts and backoff follow). */
const FAILED_RETRY_MS = 1_000;

/** KEYS: the updates' markers. ARGV: owner, claim ms. For each: 'done', 'busy' (claimed elsewhere) or 'claimed'. */
const CLAIM_UPDATES = `
local out = {}
for i, key in ipairs(KEYS) do
  local v = redis.call('GET', key)
  if v == 'done' then out[i] = 'done'
  elseif v and v ~= ARGV[1] then out[i] = 'busy'
  else redis.call('SET', key, ARGV[1], 'PX', ARGV[2]); out[i] = 'claimed' end
end
return out
`;

export const updateMarkerKey = (job: BotJob, updateId: number) => job.keys.bot(job.bot.id, 'update', updateId);

/** Claims one update for `owner` (one round trip): as for a page, 'done', 'busy' or 'claimed'. */
export async function claimUpdate(job: BotJob, updateId: number, owner: string): Promise<string> {
  const [state] = (await job.redis.eval(CLAIM_UPDATES, 1, updateMarkerKey(job, updateId), owner, CLAIM_MS)) as string[];
  return state!;
}

export async function markUpdateDone(job: BotJob, updateId: number): Promise<void> {
  await job.redis.set(updateMarkerKey(job, updateId), 'done', 'EX', DONE_S);
}

/** At most VERIFIER_CONCURRENCY updates of one bot at once in this process, whatever number of pages run. */
class Slots {
  private free: number;
  private readonly waiting: Array<() => void> = [];
  constructor(size: number) {
    this.free = size;
  }
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}
const slotsByBot = new WeakMap<ActiveBot, Slots>();
/** The slots of the job's bot in this process, shared by its pages and handed-off updates. */
export const updateSlots = (job: BotJob) => {
  let slots = slotsByBot.get(job.bot);
  if (!slots) slotsByBot.set(job.bot, (slots = new Slots(job.updateConcurrency ?? 20)));
  return slots;
};

type RawUpdate = { update_id: number } & Record<string, unknown>;
type Found = { chat?: { id?: unknown; type?: unknown }; from?: { id?: unknown; is_bot?: unknown } };

/** The update's user (its sender, or whoever joined) and chat: a page keeps one user's updates in one chat in order. */
function whoAndWhere(update: RawUpdate): { userId?: number; chatId?: number; chatType?: string } {
  const body = Object.entries(update).find(([k]) => k !== 'update_id')?.[1] as Record<string, unknown> | undefined;
  if (!body || typeof body !== 'object') return {};
  const { chat, from } = body as Found;
  const member = (body as { new_chat_member?: { user?: { id?: unknown } } }).new_chat_member;
  const userId =
    typeof member?.user?.id === 'number' ? member.user.id : typeof from?.id === 'number' ? from.id : undefined;
  const message = (body as { message?: Found }).message;
  const where = chat ?? message?.chat;
  return {
    userId,
    chatId: typeof where?.id === 'number' ? where.id : undefined,
    chatType: typeof where?.type === 'string' ? where.type : undefined,
  };
}

/**
 * Membership answers the page's joins and group messages will look for, read with the claims in one round
 * trip (checkChannels uses them, falling back to Redis for anything else).
 */
async function cacheKeysToRead(job: BotJob, updates: RawUpdate[]): Promise<string[]> {
  const wanted = new Map<number, Set<number>>();
  for (const update of updates) {
    if (!('chat_member' in update) && !('message' in update)) continue;
    const { userId, chatId, chatType } = whoAndWhere(update);
    if (userId === undefined || chatId === undefined || (chatType !== 'supergroup' && chatType !== 'group')) continue;
    wanted.set(chatId, (wanted.get(chatId) ?? new Set()).add(userId));
  }
  const keys: string[] = [];
  await Promise.all(
    [...wanted].map(async ([chatId, users]) => {
      const group: GroupPolicy | null = await job.groups.get(job.bot.id, chatId).catch(() => null);
      if (!group?.enabled || !group.channels.length) return;
      for (const userId of users)
        for (const channel of group.channels) keys.push(membershipCacheKey(job, channel.channelId, userId));
    }),
  );
  return keys;
}

type Handle = (job: BotJob, data: UpdateJobData<'update'>) => Promise<unknown>;

/** The `page` job: see the top of this file. */
export async function onPage(
  job: BotJob,
  data: UpdateJobData<'page'>,
  bullJob: Job,
  handle: Handle,
): Promise<{ handled: number; handedOff: number; skipped: number; alreadyDone: number }> {
  const bot = String(job.bot.id);
  const owner = `page:${bullJob.id}`;
  let skipped = 0;
  const updates: RawUpdate[] = [];
  for (const raw of data.updates) {
    const id = (raw as { update_id?: unknown } | null)?.update_id;
    if (raw && typeof raw === 'object' && Number.isSafeInteger(id) && (id as number) >= 0)
      updates.push(raw as RawUpdate);
    else {
      skipped++;
      job.metrics.skippedUpdates.inc({ bot, reason: 'malformed' });
      job.log.warn('update skipped', { jobId: bullJob.id, reason: 'malformed' });
    }
  }
  if (!updates.length) return { handled: 0, handedOff: 0, skipped, alreadyDone: 0 };

  // One round trip: every update's claim, and the membership answers the page will need.
  const cacheKeys = await cacheKeysToRead(job, updates);
  const batch = job.redis
    .pipeline()
    .eval(CLAIM_UPDATES, updates.length, ...updates.map((u) => updateMarkerKey(job, u.update_id)), owner, CLAIM_MS);
  if (cacheKeys.length) batch.mget(...cacheKeys);
  const replies = (await batch.exec())!;
  for (const [err] of replies) if (err) throw err;
  const states = replies[0]![1] as string[];
  const prefetched = new Map<string, string | null>();
  if (cacheKeys.length) (replies[1]![1] as Array<string | null>).forEach((v, i) => prefetched.set(cacheKeys[i]!, v));

  // One user's updates in one chat in order, one after the other; everything else at once.
  const chains = new Map<string, RawUpdate[]>();
  const busy: RawUpdate[] = [];
  let alreadyDone = 0;
  updates.forEach((update, i) => {
    if (states[i] === 'done') return void alreadyDone++;
    if (states[i] === 'busy') return void busy.push(update);
    const { userId, chatId } = whoAndWhere(update);
    const key = userId === undefined && chatId === undefined ? `i${update.update_id}` : `${chatId}:${userId}`;
    const chain = chains.get(key);
    if (chain) chain.push(update);
    else chains.set(key, [update]);
  });

  const handOffs: Array<JobSpec<'updates'>> = [];
  const handOff = (update: RawUpdate, retryAt: number, waiting: string) =>
    handOffs.push({
      name: 'update',
      data: {
        botInstanceId: data.botInstanceId,
        update,
        receivedAt: data.receivedAt,
        ...(data.trace ? { trace: data.trace } : {}),
        waiting: waiting.slice(0, 300),
      },
      opts: { jobId: updateJobId(job.bot.id, update.update_id), delay: Math.max(0, retryAt - Date.now()) },
    });
  for (const update of busy) {
    job.metrics.jobsHandedBack.inc({ bot, reason: 'retry_later' });
    handOff(update, Date.now() + CLAIM_MS, 'claimed by another run (a page delivered twice, or a verifier that died)');
  }

  const slots = updateSlots(job);
  const handled: number[] = [];
  const released: number[] = [];
  const runChain = async (chain: RawUpdate[]) => {
    for (let i = 0; i < chain.length; i++) {
      const update = chain[i]!;
      // Shutting down: what has not started leaves the page at once, to run in whichever verifier is left.
      const outcome = await slots.run(() =>
        job.stopping?.requested
          ? Promise.resolve({ retryAt: Date.now(), why: 'its verifier was shutting down' })
          : handleOne(job, data, update, handle, prefetched),
      );
      if (outcome === 'handled') {
        handled.push(update.update_id);
        continue;
      }
      // Waits or failed: it leaves the page, and so does the rest of this user's chain, in order behind it.
      chain.slice(i).forEach((later, k) => {
        handOff(
          later,
          outcome.retryAt + k,
          k ? `after update ${update.update_id} of the same user: ${outcome.why}` : outcome.why,
        );
        released.push(later.update_id);
      });
      return;
    }
  };
  await Promise.all([...chains.values()].map(runChain));

  if (handOffs.length) await addJobs(job.queue, handOffs);
  // Handed-off updates are theirs now: let their jobs claim them at once.
  await Promise.all(released.map((id) => deleteIfEqual(job.redis, updateMarkerKey(job, id), owner)));
  return { handled: handled.length, handedOff: handOffs.length, skipped, alreadyDone };
}

type Outcome = 'handled' | { retryAt: number; why: string };

/** One update of a page: handled, skipped (counted), refused by Telegram, or to be handed off with why. */
async function handleOne(
  page: BotJob,
  data: UpdateJobData<'page'>,
  update: RawUpdate,
  handle: Handle,
  prefetched: Map<string, string | null>,
): Promise<Outcome> {
  const job: BotJob = { ...page, prefetched };
  const bot = String(job.bot.id);
  const run = () => handle(job, { botInstanceId: data.botInstanceId, update, receivedAt: data.receivedAt });
  try {
    // Traced pages (a carrier came with them) get a span per update, so a trace reads poll → page → update → calls.
    await (data.trace
      ? inSpan('update', SpanKind.INTERNAL, (span) => {
          span.setAttribute('nezuko.update', update.update_id);
          return run();
        })
      : run());
  } catch (err) {
    const ending = sortError(err);
    if (ending.outcome === 'skipped') {
      job.metrics.skippedUpdates.inc({ bot, reason: ending.reason });
      job.log.warn('update skipped', { updateId: update.update_id, reason: ending.reason });
    } else if (ending.outcome === 'rejected') {
      job.log.warn('telegram refused; not retrying', { updateId: update.update_id, reason: ending.reason });
    } else if (ending.outcome === 'delayed') {
      job.metrics.jobsHandedBack.inc({ bot, reason: ending.reason });
      return { retryAt: ending.retryAt, why: `${ending.reason}: ${ending.why}` };
    } else {
      const why = describeError(err);
      job.log.warn('update failed; handed off to run again as a job of its own', {
        updateId: update.update_id,
        error: why,
        ...(ending.outcome === 'code_error' ? { fingerprint: errorFingerprint(ending.err) } : {}),
      });
      return { retryAt: Date.now() + FAILED_RETRY_MS, why: `failed: ${why}` };
    }
  }
  await markUpdateDone(job, update.update_id);
  return 'handled';
}
