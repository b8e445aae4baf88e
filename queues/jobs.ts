/**
 * Queue and job names, one zod schema per payload, the job ids and default job options: what producers and
 * workers agree on. Producers and workers import these from queues/ and nowhere else.
 */
import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { DefaultJobOptions } from 'bullmq';

/** Each bot has its own queue, so one bot's backlog or failure never delays another's. */
export const updatesQueueName = (botInstanceId: number) => `updates-${botInstanceId}`;
export const MAINTENANCE_QUEUE = 'maintenance';
/** CSV exports have a queue of their own, so a long export never delays a rollup. */
export const EXPORTS_QUEUE = 'exports';

const botInstanceId = z.number().int().positive();
const telegramId = z.number().int();

/** At most this many updates per getUpdates call (Bot API, getUpdates `limit`), so per page. */
export const PAGE_MAX_UPDATES = 100;

/** Jobs on a bot's `updates-<id>` queue. */
export const updateJobs = {
  /**
   * One getUpdates batch of a bot, after the poller left out what nobody acts on: the updates exactly as
   * Telegram sent them. Each update is validated on its own (a malformed one is skipped and counted, the rest
   * of the page goes on). Never the token.
   */
  page: z.object({
    botInstanceId,
    updates: z.array(z.unknown()).min(1).max(PAGE_MAX_UPDATES),
    /** When the poller received the batch (ms since epoch), for lag and end-to-end latency. */
    receivedAt: z.number().int().positive(),
    /** W3C trace context of the poll that read it, when tracing is on. */
    trace: z.record(z.string().max(64), z.string().max(512)).optional(),
  }),
  /**
   * One update on its own: an update of a page that had to wait (Telegram's retry_after, an open breaker, a
   * pacing slot, another worker deciding the same thing) or failed, handed off so that its page goes on.
   */
  update: z.object({
    botInstanceId,
    update: z.looseObject({ update_id: z.number().int().nonnegative() }),
    /** When the poller received it (ms since epoch), for lag and end-to-end latency. */
    receivedAt: z.number().int().positive(),
    /** W3C trace context of the poll that read it, when tracing is on. */
    trace: z.record(z.string().max(64), z.string().max(512)).optional(),
    /** Why it left its page (shown in Bull Board): what it waits for, or the error it met. */
    waiting: z.string().max(300).optional(),
  }),
  /** Delete a verification prompt once its lifetime is over. */
  'delete-prompt': z.object({ botInstanceId, chatId: telegramId, messageId: z.number().int().positive() }),
  /** Delete a muted user's ephemeral prompt (shown to them only) once its lifetime is over. */
  'delete-ephemeral-prompt': z.object({
    botInstanceId,
    chatId: telegramId,
    userId: telegramId,
    ephemeralMessageId: z.number().int().positive(),
  }),
  /**
   * Send the group's waiting prompts: each names up to a bounded number of muted users, at a pace inside the
   * group's message budget (services/verifier/prompt-waves.ts). `owner` is the run's claim on the group's queue.
   */
  'send-prompts': z.object({
    botInstanceId,
    chatId: telegramId,
    owner: z.string().min(1).max(64),
    /** W3C trace context of the update that started this sender, when tracing is on. */
    trace: z.record(z.string().max(64), z.string().max(512)).optional(),
    /** A continuation waits until then (ms since epoch) before it sends: the slot its predecessor was given. */
    notBefore: z.number().int().positive().optional(),
  }),
  /** Decline a join request whose user did not subscribe in time. */
  'expire-join-request': z.object({ botInstanceId, chatId: telegramId, userId: telegramId }),
  /** Guard-bot join request: the user pressed "check" in the verification Web App (the API verified who they are). */
  'guard-check': z.object({ botInstanceId, chatId: telegramId, userId: telegramId }),
  /** Guard-bot join request: the user's time to join through the Web App is over (decline or queue for admins). */
  'guard-timeout': z.object({
    botInstanceId,
    chatId: telegramId,
    userId: telegramId,
    queryId: z.string().min(1).max(64),
  }),
  /** Lift every open restriction the bot made in a group (turning protection off), paced. */
  'lift-restrictions': z.object({ botInstanceId, groupId: z.number().int().positive(), reason: z.string().max(200) }),
  /** A timed mute's end: close its restriction row (`expired`), delete its prompt, restore an admin's earlier restriction. */
  'expire-restriction': z.object({ botInstanceId, restrictionId: z.number().int().positive() }),
  /** Lift properly a user an earlier version unmuted "to the group's defaults" (restrictions.relift_pending). */
  relift: z.object({ botInstanceId, restrictionId: z.number().int().positive() }),
} as const;

/**
 * Jobs on the shared maintenance queue, all started by job schedulers (schedulers.ts). The queue has a global
 * concurrency of 1: two maintenance jobs never run at once, across every maintenance process.
 */
export const maintenanceJobs = {
  /** Rolls new log rows into the hourly tables, then writes the dashboard snapshot. */
  'stats-rollup': z.object({}),
  /** Deletes expired log rows, statistics, sessions and export files. */
  retention: z.object({}),
  /** Creates the daily exports (EXPORT_SCHEDULE_KINDS) of the previous UTC day. */
  'scheduled-export': z.object({}),
  /** Marks running bots whose poller heartbeat stopped. */
  'health-sweep': z.object({}),
  /** Reads member and subscriber counts of enabled groups and their channels from Telegram. */
  'counts-sync': z.object({}),
  /**
   * Hands the verifiers what is due on restrictions: timed mutes whose end has passed (a safety net behind the
   * expiry job each mute schedules) and users lifted the old way that still need a proper lift.
   */
  'restriction-upkeep': z.object({}),
} as const;

/** Jobs on the exports queue (job id `export-<id>`, one per exports row). */
export const exportJobs = {
  export: z.object({ exportId: z.number().int().positive() }),
} as const;

/** Every queue kind and the jobs it carries. */
export const JOBS = { updates: updateJobs, maintenance: maintenanceJobs, exports: exportJobs } as const;
export type QueueKind = keyof typeof JOBS;
export type JobName<K extends QueueKind> = keyof (typeof JOBS)[K] & string;
export type JobData<K extends QueueKind, N extends JobName<K>> = z.infer<(typeof JOBS)[K][N]>;

export type UpdateJobName = JobName<'updates'>;
export type MaintenanceJobName = JobName<'maintenance'>;
export type UpdateJobData<N extends UpdateJobName> = JobData<'updates', N>;
export type MaintenanceJobData<N extends MaintenanceJobName> = JobData<'maintenance', N>;
export type ExportJobData = JobData<'exports', 'export'>;

/** A queue by kind and name: a bot's updates queue, or one of the shared ones. */
export interface QueueRef<K extends QueueKind = QueueKind> {
  kind: K;
  name: string;
}
export const updatesQueue = (botInstanceId: number): QueueRef<'updates'> => ({
  kind: 'updates',
  name: updatesQueueName(botInstanceId),
});
export const maintenanceQueue: QueueRef<'maintenance'> = { kind: 'maintenance', name: MAINTENANCE_QUEUE };
export const exportsQueue: QueueRef<'exports'> = { kind: 'exports', name: EXPORTS_QUEUE };

/*
 * Job ids. BullMQ refuses custom ids containing `:` and all-digit ids; each id here is deterministic, so a job
 * produced twice (a re-delivered update, a retried producer) exists once while the first is kept.
 */

/**
 * A page re-delivered as it was (crash between addBulk and the offset advance) is dropped by BullMQ as a
 * duplicate: the id is the bot, the first update id and a digest of all of them. A re-delivered page cut
 * differently is a job of its own; its updates already handled are skipped by their done markers.
 */
export const pageJobId = (botInstanceId: number, updateIds: readonly number[]) =>
  `pg-${botInstanceId}-${updateIds[0]}-${createHash('sha1').update(updateIds.join(',')).digest('hex').slice(0, 12)}`;
/** An update handed off by its page: one job per update, however often its page runs. */
export const updateJobId = (botInstanceId: number, updateId: number) => `u-${botInstanceId}-${updateId}`;
/** One deletion per prompt. */
export const deletePromptJobId = (botInstanceId: number, chatId: number, messageId: number) =>
  `p-${botInstanceId}-${-chatId}-${messageId}`;
export const deleteEphemeralPromptJobId = (
  botInstanceId: number,
  chatId: number,
  userId: number,
  ephemeralMessageId: number,
) => `pe-${botInstanceId}-${-chatId}-${userId}-${ephemeralMessageId}`;
/** One prompt sender per claim on a group's waiting prompts. */
export const sendPromptsJobId = (botInstanceId: number, chatId: number, owner: string) =>
  `sp-${botInstanceId}-${-chatId}-${owner}`;
/** One expiry per join request (a user asking again later is a request of its own). */
export const expireJoinRequestJobId = (botInstanceId: number, chatId: number, userId: number, requestDate: number) =>
  `jr-${botInstanceId}-${-chatId}-${userId}-${requestDate}`;
/** One timeout per guard-bot join request (its query id is unique). */
export const guardTimeoutJobId = (botInstanceId: number, chatId: number, userId: number, queryId: string) =>
  `gt-${botInstanceId}-${-chatId}-${userId}-q${queryId.replace(/[^\w-]/g, '')}`;
/** One expiry job per mute episode (a renewed mute ends later and gets a job of its own). */
export const expireRestrictionJobId = (botInstanceId: number, restrictionId: number, mutedUntil: Date) =>
  `x-${botInstanceId}-${restrictionId}-${mutedUntil.getTime()}`;
export const reliftJobId = (botInstanceId: number, restrictionId: number) => `rl-${botInstanceId}-${restrictionId}`;
export const exportJobId = (exportId: number) => `export-${exportId}`;

/**
 * Retries are few and spaced: in-process Telegram retries already absorb blips, so BullMQ attempts are for
 * real outages. Completed jobs are kept briefly (job ids dedupe re-deliveries only while the job exists),
 * failed ones long enough to be looked at in Bull Board.
 */
export const defaultJobOptions: DefaultJobOptions = {
  attempts: 5,
  backoff: { type: 'exponential', delay: 1_000 },
  removeOnComplete: { age: 24 * 3600, count: 10_000 },
  removeOnFail: { age: 7 * 24 * 3600 },
};
