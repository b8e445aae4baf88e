import { Queue, Worker, type Job } from 'bullmq';
import {
  assertHandlers,
  defaultJobOptions,
  updatesQueueName,
  EXPORTS_QUEUE,
  exportJobs,
  MAINTENANCE_QUEUE,
  maintenanceJobs,
  type MaintenanceJobName,
} from '../../queues';
import type { AppContext } from '../core/context';
import { createExportsQueue } from '../core/exports';
import { apiCallLogWriter } from '../core/log-writer';
import { syncCounts } from './counts-sync';
import { writeDashboard } from './dashboard';
import { runExport, writeExportFileInChild } from './export';
import { sweepHeartbeats } from './health-sweep';
import { redactStoredTokens } from './redact-stored-tokens';
import { runRetention } from './retention';
import { restrictionUpkeep } from './restriction-upkeep';
import { rollupAll } from './rollup';
import { requeueStaleExports, runScheduledExports } from './scheduled-export';

/**
 * The maintenance role.
 *
 * Two queues, chosen so that nothing overlaps and nothing waits behind a long export:
 * - `maintenance` (stats-rollup every STATS_ROLLUP_INTERVAL_MS, counts-sync every COUNTS_SYNC_INTERVAL_MS,
 *   restriction-upkeep every minute, retention and scheduled-export by cron) has a
 *   queue-wide global concurrency of 1 (`queue.setGlobalConcurrency(1)`), so across every maintenance process
 *   exactly one of these jobs runs at a time: a rollup never overlaps another rollup or a retention pass. Each
 *   is short (a rollup is one aggregate statement per 50k rows, retention is 5k-row statements; a counts sync
 *   takes about chats-per-bot ÷ COUNTS_SYNC_CALLS_PER_SECOND seconds, bots side by side). The rollup
 *   also takes a PostgreSQL advisory lock per table in its transaction, so even a stalled job re-run while the
 *   first still works cannot count a row twice.
 * - `exports`: the CSV exports, which can take minutes; on their own queue (concurrency 1 per process) they never
 *   delay a rollup. Each export's job id is `export-<id>`, and the export claims its row queued → running
 *   atomically, so one export is never written twice. The file is written in a short-lived child process that
 *   loads only pg, csv-stringify and zlib, so its memory never adds to this one's.
 *
 * Job schedulers are registered with `upsertJobScheduler` on every start of every maintenance process: the same
 * ids and settings leave exactly one scheduler per id, and a changed interval or cron replaces it.
 */

export const SCHEDULER_IDS = {
  rollup: 'stats-rollup',
  retention: 'retention',
  scheduledExport: 'scheduled-export',
  healthSweep: 'health-sweep',
  countsSync: 'counts-sync',
  restrictionUpkeep: 'restriction-upkeep',
} as const;

/** How often due restriction work (ended timed mutes, old-style lifts) is handed to the verifiers. */
export const RESTRICTION_UPKEEP_EVERY_MS = 60_000;

const schedulerJobOptions = {
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 500 },
};

export async function registerSchedulers(ctx: AppContext, queue: Queue): Promise<void> {
  const { config } = ctx;
  await queue.setGlobalConcurrency(1);
  await queue.upsertJobScheduler(SCHEDULER_IDS.rollup, { every: config.STATS_ROLLUP_INTERVAL_MS }, {
    name: 'stats-rollup',
    data: {},
    // The next run comes within seconds; a failed run is not retried.
    opts: { ...schedulerJobOptions, attempts: 1 },
  });
  await queue.upsertJobScheduler(SCHEDULER_IDS.retention, { pattern: config.RETENTION_CRON, tz: 'UTC' }, {
    name: 'retention',
    data: {},
    opts: { ...schedulerJobOptions, attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
  });
  await queue.upsertJobScheduler(SCHEDULER_IDS.healthSweep, { every: 30_000 }, {
    name: 'health-sweep',
    data: {},
    opts: { ...schedulerJobOptions, attempts: 1 },
  });
  await queue.upsertJobScheduler(SCHEDULER_IDS.countsSync, { every: config.COUNTS_SYNC_INTERVAL_MS }, {
    name: 'counts-sync',
    data: {},
    // Counts are refreshed by the next run; a retry would only repeat the calls that already failed.
    opts: { ...schedulerJobOptions, attempts: 1 },
  });
  await queue.upsertJobScheduler(SCHEDULER_IDS.restrictionUpkeep, { every: RESTRICTION_UPKEEP_EVERY_MS }, {
    name: 'restriction-upkeep',
    data: {},
    // The next run hands over whatever this one did not.
    opts: { ...schedulerJobOptions, attempts: 1 },
  });
  if (config.EXPORT_SCHEDULE_KINDS.length) {
    await queue.upsertJobScheduler(SCHEDULER_IDS.scheduledExport, { pattern: config.EXPORT_SCHEDULE_CRON, tz: 'UTC' }, {
      name: 'scheduled-export',
      data: {},
      opts: { ...schedulerJobOptions, attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
    });
  } else {
    await queue.removeJobScheduler(SCHEDULER_IDS.scheduledExport);
  }
}

type Handler = (job: Job) => Promise<unknown>;

export async function startMaintenance(ctx: AppContext): Promise<void> {
  const { config, db, log, metrics } = ctx;
  const producer = ctx.newRedis('worker');
  const apiCalls = apiCallLogWriter(ctx.sql, log, metrics);
  // A running counts sync stops between calls at shutdown (the next run does the rest) instead of holding it up.
  const countsAbort = new AbortController();
  const queue = new Queue(MAINTENANCE_QUEUE, { connection: producer, prefix: config.REDIS_PREFIX, defaultJobOptions });
  const exportsQueue = createExportsQueue(producer, config.REDIS_PREFIX);
  queue.on('error', (err) => log.warn('maintenance queue error', { err }));
  // Producers on the bots' own queues, for work only a verifier can do (it holds the Telegram side).
  const botQueues = new Map<number, Queue>();
  const botQueue = (botInstanceId: number) => {
    let q = botQueues.get(botInstanceId);
    if (!q) {
      q = new Queue(updatesQueueName(botInstanceId), { connection: producer, prefix: config.REDIS_PREFIX, defaultJobOptions });
      q.on('error', (err) => log.warn('bot queue error', { botId: botInstanceId, err }));
      botQueues.set(botInstanceId, q);
    }
    return q;
  };
  exportsQueue.on('error', (err) => log.warn('exports queue error', { err }));

  const handlers: Record<MaintenanceJobName, Handler> = {
    'stats-rollup': async () => {
      const results = await rollupAll(db);
      for (const r of results) {
        if (r.rows) metrics.rollupRows.inc({ table: r.table }, r.rows);
        if (r.deferred) log.warn('rollup deferred: a writer that started before the bound is still open', { table: r.table });
      }
      const snapshot = await writeDashboard({ db, redis: ctx.redis, keys: ctx.keys });
      metrics.markDashboardSnapshot(new Date(snapshot.generatedAt));
      await requeueStaleExports({ db, exportsQueue });
      return results.map((r) => ({ table: r.table, rows: r.rows, toId: String(r.toId), deferred: r.deferred }));
    },
    retention: async () => {
      const result = await runRetention({ db, config, metrics });
      log.info('retention done', result);
      return result;
    },
    'health-sweep': async () => {
      const stale = await sweepHeartbeats(ctx);
      if (stale.length) log.warn('bots without a poller heartbeat', { botIds: stale });
      return stale;
    },
    'counts-sync': async () => {
      const result = await syncCounts(
        { db, redis: ctx.redis, keys: ctx.keys, cooldowns: ctx.cooldowns, metrics, log, config, onCall: (record) => apiCalls.push(record) },
        { signal: countsAbort.signal },
      );
      if (result.failed || result.deferred || result.skippedBots) log.warn('counts sync done, some chats not synced', result);
      else log.info('counts sync done', result);
      return result;
    },
    'restriction-upkeep': async () => {
      const result = await restrictionUpkeep(db, botQueue);
      if (result.expired || result.relifts) log.info('restriction work handed to the verifiers', result);
      return result;
    },
    'scheduled-export': async (job) => {
      // The time this run was scheduled for (timestamp is when the job was created, delay until it was due).
      const at = new Date(job.timestamp + (job.delay ?? 0));
      const created = await runScheduledExports({ db, exportsQueue }, config.EXPORT_SCHEDULE_KINDS, at);
      log.info('daily exports requested', { exports: created });
      return created;
    },
  };
  assertHandlers(MAINTENANCE_QUEUE, maintenanceJobs, handlers);

  const exportAbort = new AbortController();
  const exportHandlers = {
    export: async (job: Job) => {
      const { exportId } = exportJobs.export.parse(job.data);
      return runExport(
        { db, databaseUrl: config.DATABASE_URL, exportDir: config.EXPORT_DIR, log, metrics },
        exportId,
        // In a process of its own, so an export's memory is its own (see export-process.ts).
        { signal: exportAbort.signal, onProgress: (rows) => job.updateProgress({ rows }), writer: writeExportFileInChild },
      );
    },
  };
  assertHandlers(EXPORTS_QUEUE, exportJobs, exportHandlers);

  const timed = (queueName: string, table: Record<string, Handler>, schemas: Record<string, { parse(v: unknown): unknown }>) => async (job: Job) => {
    const started = performance.now();
    let outcome = 'failed';
    try {
      schemas[job.name]?.parse(job.data);
      const handler = table[job.name];
      if (!handler) throw new Error(`no handler for ${job.name}`);
      const result = await handler(job);
      outcome = 'completed';
      return result;
    } finally {
      metrics.jobDuration.observe({ queue: queueName, job: job.name, outcome }, (performance.now() - started) / 1000);
    }
  };

  await registerSchedulers(ctx, queue);
  await requeueStaleExports({ db, exportsQueue }, 0).catch((err) => log.warn('could not re-enqueue queued exports', { err }));
  // Once per deployment, in the background: tokens that older versions let into stored errors.
  void redactStoredTokens(ctx)
    .then((result) => result && log.info('stored bot tokens redacted (one-off)', { ...result }))
    .catch((err) => log.warn('one-off token redaction failed; it runs again at the next start', { err }));

  const worker = new Worker(MAINTENANCE_QUEUE, timed(MAINTENANCE_QUEUE, handlers, maintenanceJobs), {
    connection: ctx.newRedis('worker'),
    prefix: config.REDIS_PREFIX,
    concurrency: 1,
  });
  const exportWorker = new Worker(EXPORTS_QUEUE, timed(EXPORTS_QUEUE, exportHandlers, exportJobs), {
    connection: ctx.newRedis('worker'),
    prefix: config.REDIS_PREFIX,
    concurrency: 1,
    // A stalled export (its process died) is handed to runExport once more, which marks it failed and cleans up.
    maxStalledCount: 1,
  });
  worker.on('error', (err) => log.warn('maintenance worker error', { err }));
  exportWorker.on('error', (err) => log.warn('export worker error', { err }));
  worker.on('failed', (job, err) => log.warn('maintenance job failed', { job: job?.name, err }));

  ctx.lifecycle.onShutdown('workers', 'maintenance workers', async () => {
    // A running export stops, removes its partial file and is marked failed, instead of holding up shutdown.
    exportAbort.abort();
    countsAbort.abort();
    await Promise.all([worker.close(), exportWorker.close()]);
    await Promise.all([queue.close(), exportsQueue.close(), ...[...botQueues.values()].map((q) => q.close())]);
  });
  ctx.lifecycle.onShutdown('buffers', 'maintenance api-call log', () => apiCalls.close());
  log.info('maintenance started', {
    rollupEveryMs: config.STATS_ROLLUP_INTERVAL_MS,
    countsSyncEveryMs: config.COUNTS_SYNC_INTERVAL_MS,
    retention: config.RETENTION_CRON,
    dailyExport: config.EXPORT_SCHEDULE_KINDS.length ? { cron: config.EXPORT_SCHEDULE_CRON, kinds: config.EXPORT_SCHEDULE_KINDS } : 'off',
  });
}
