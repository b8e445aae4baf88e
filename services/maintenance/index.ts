import type { Job } from 'bullmq';
import {
  defineHandlers,
  exportsQueue,
  jobProcessor,
  maintenanceQueue,
  openQueue,
  openWorker,
  registerSchedulers,
  updatesQueue,
  type JobQueue,
  type QueueHost,
} from '../../queues';
import type { AppContext } from '../core/context';
import { apiCallLogWriter, type BatchWriter } from '../core/log-writer';
import type { ApiCallRecord } from '../core/telegram/client';
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
 * Every job is started by a job scheduler (queues/schedulers.ts), registered on every start of every maintenance
 * process, and runs through the contract's processor (queues/processor.ts).
 */

/** What a maintenance job works with: the process' context and the role's own parts. */
interface Maintenance {
  ctx: AppContext;
  apiCalls: BatchWriter<ApiCallRecord>;
  exportsQueue: JobQueue<'exports'>;
  /** Producers on the bots' own queues, for work only a verifier can do (it holds the Telegram side). */
  botQueue(botInstanceId: number): JobQueue<'updates'>;
  /** Aborted at shutdown: a running counts sync stops between calls, a running export removes its partial file. */
  stopping: AbortSignal;
}

const handlers = defineHandlers('maintenance', {
  'stats-rollup': async ({ ctx, exportsQueue }: Maintenance) => {
    const { db, log, metrics } = ctx;
    const results = await rollupAll(db);
    for (const r of results) {
      if (r.rows) metrics.rollupRows.inc({ table: r.table }, r.rows);
      if (r.deferred)
        log.warn('rollup deferred: a writer that started before the bound is still open', { table: r.table });
    }
    const snapshot = await writeDashboard({ db, redis: ctx.redis, keys: ctx.keys });
    metrics.markDashboardSnapshot(new Date(snapshot.generatedAt));
    await requeueStaleExports({ db, exportsQueue });
    return results.map((r) => ({ table: r.table, rows: r.rows, toId: String(r.toId), deferred: r.deferred }));
  },
  retention: async ({ ctx }) => {
    const result = await runRetention({ db: ctx.db, config: ctx.config, metrics: ctx.metrics });
    ctx.log.info('retention done', result);
    return result;
  },
  'health-sweep': async ({ ctx }) => {
    const stale = await sweepHeartbeats(ctx);
    if (stale.length) ctx.log.warn('bots without a poller heartbeat', { botIds: stale });
    return stale;
  },
  'counts-sync': async ({ ctx, apiCalls, stopping }) => {
    const { db, log, metrics, config } = ctx;
    const result = await syncCounts(
      {
        db,
        redis: ctx.redis,
        keys: ctx.keys,
        cooldowns: ctx.cooldowns,
        metrics,
        log,
        config,
        onCall: (record) => apiCalls.push(record),
      },
      { signal: stopping },
    );
    if (result.failed || result.deferred || result.skippedBots)
      log.warn('counts sync done, some chats not synced', result);
    else log.info('counts sync done', result);
    return result;
  },
  'restriction-upkeep': async ({ ctx, botQueue }) => {
    const result = await restrictionUpkeep(ctx.db, botQueue);
    if (result.expired || result.relifts) ctx.log.info('restriction work handed to the verifiers', result);
    return result;
  },
  'scheduled-export': async ({ ctx, exportsQueue }, _data, job: Job) => {
    // The time this run was scheduled for (timestamp is when the job was created, delay until it was due).
    const at = new Date(job.timestamp + (job.delay ?? 0));
    const created = await runScheduledExports({ db: ctx.db, exportsQueue }, ctx.config.EXPORT_SCHEDULE_KINDS, at);
    ctx.log.info('daily exports requested', { exports: created });
    return created;
  },
});

const exportHandlers = defineHandlers('exports', {
  export: async ({ ctx, stopping }: Maintenance, { exportId }, job) => {
    const { db, config, log, metrics } = ctx;
    return runExport(
      { db, databaseUrl: config.DATABASE_URL, exportDir: config.EXPORT_DIR, log, metrics },
      exportId,
      // In a process of its own, so an export's memory is its own (see export-process.ts).
      { signal: stopping, onProgress: (rows) => job.updateProgress({ rows }), writer: writeExportFileInChild },
    );
  },
});

export async function startMaintenance(ctx: AppContext): Promise<void> {
  const { config, db, log, metrics } = ctx;
  const producer: QueueHost = { connection: ctx.newRedis('worker'), prefix: config.REDIS_PREFIX, log };
  const stopping = new AbortController();
  const queue = openQueue(maintenanceQueue, producer);
  const botQueues = new Map<number, JobQueue<'updates'>>();
  const m: Maintenance = {
    ctx,
    apiCalls: apiCallLogWriter(ctx.sql, log, metrics),
    exportsQueue: openQueue(exportsQueue, producer),
    botQueue: (botInstanceId) => {
      let q = botQueues.get(botInstanceId);
      if (!q) {
        q = openQueue(updatesQueue(botInstanceId), producer);
        botQueues.set(botInstanceId, q);
      }
      return q;
    },
    stopping: stopping.signal,
  };

  await registerSchedulers(queue, config);
  await requeueStaleExports({ db, exportsQueue: m.exportsQueue }, 0).catch((err) =>
    log.warn('could not re-enqueue queued exports', { err }),
  );
  // Once per deployment, in the background: tokens that older versions let into stored errors. A shutdown stops
  // it and waits for it (below), so it never touches Redis, PostgreSQL or the log after they are closed.
  const redaction = redactStoredTokens(ctx, { signal: stopping.signal }).then(
    (result) => void (result && log.info('stored bot tokens redacted (one-off)', { ...result })),
    (err) =>
      stopping.signal.aborted
        ? log.info('one-off token redaction stopped by the shutdown; it runs again at the next start')
        : log.warn('one-off token redaction failed; it runs again at the next start', { err }),
  );

  const scope = () => m;
  const worker = openWorker(
    maintenanceQueue,
    jobProcessor({ queue: maintenanceQueue, handlers, metrics, log, scope }),
    { ...producer, connection: ctx.newRedis('worker') },
    {
      concurrency: 1,
    },
  );
  const exportWorker = openWorker(
    exportsQueue,
    jobProcessor({ queue: exportsQueue, handlers: exportHandlers, metrics, log, scope }),
    { ...producer, connection: ctx.newRedis('worker') },
    {
      concurrency: 1,
      // A stalled export (its process died) is handed to runExport once more, which marks it failed and cleans up.
      maxStalledCount: 1,
    },
  );

  ctx.lifecycle.onShutdown('workers', 'maintenance workers', async () => {
    // A running export stops, removes its partial file and is marked failed, instead of holding up shutdown.
    stopping.abort();
    await Promise.all([worker.close(), exportWorker.close(), redaction]);
    await Promise.all([queue.close(), m.exportsQueue.close(), ...[...botQueues.values()].map((q) => q.close())]);
  });
  ctx.lifecycle.onShutdown('buffers', 'maintenance api-call log', () => m.apiCalls.close());
  log.info('maintenance started', {
    rollupEveryMs: config.STATS_ROLLUP_INTERVAL_MS,
    countsSyncEveryMs: config.COUNTS_SYNC_INTERVAL_MS,
    retention: config.RETENTION_CRON,
    dailyExport: config.EXPORT_SCHEDULE_KINDS.length
      ? { cron: config.EXPORT_SCHEDULE_CRON, kinds: config.EXPORT_SCHEDULE_KINDS }
      : 'off',
  });
}
