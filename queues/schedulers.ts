import type { Config } from '../services/core/config';
import type { JobName } from './jobs';
import type { JobQueue } from './queue';

/**
 * The job schedulers that start every maintenance job. They are registered with `upsertJobScheduler` on every
 * start of every maintenance process: the same ids and settings leave exactly one scheduler per id, and a
 * changed interval or cron replaces it.
 */
export const SCHEDULER_IDS = {
  rollup: 'stats-rollup',
  retention: 'retention',
  scheduledExport: 'scheduled-export',
  healthSweep: 'health-sweep',
  countsSync: 'counts-sync',
  restrictionUpkeep: 'restriction-upkeep',
} as const satisfies Record<string, JobName<'maintenance'>>;

/** How often due restriction work (ended timed mutes, old-style lifts) is handed to the verifiers. */
export const RESTRICTION_UPKEEP_EVERY_MS = 60_000;
/** How often running bots are checked for a poller heartbeat. */
export const HEALTH_SWEEP_EVERY_MS = 30_000;

const schedulerJobOptions = {
  removeOnComplete: { count: 100 },
  removeOnFail: { count: 500 },
};

export type SchedulerConfig = Pick<
  Config,
  | 'STATS_ROLLUP_INTERVAL_MS'
  | 'RETENTION_CRON'
  | 'COUNTS_SYNC_INTERVAL_MS'
  | 'EXPORT_SCHEDULE_CRON'
  | 'EXPORT_SCHEDULE_KINDS'
>;

/** Registers (or updates) every scheduler on the maintenance queue, whose jobs then run one at a time. */
export async function registerSchedulers(queue: JobQueue<'maintenance'>, config: SchedulerConfig): Promise<void> {
  await queue.setGlobalConcurrency(1);
  const schedule = (
    id: JobName<'maintenance'>,
    repeat: { every: number } | { pattern: string; tz: 'UTC' },
    opts: object,
  ) => queue.upsertJobScheduler(id, repeat, { name: id, data: {}, opts: { ...schedulerJobOptions, ...opts } });
  // The next run comes within seconds; a failed run is not retried.
  await schedule(SCHEDULER_IDS.rollup, { every: config.STATS_ROLLUP_INTERVAL_MS }, { attempts: 1 });
  await schedule(
    SCHEDULER_IDS.retention,
    { pattern: config.RETENTION_CRON, tz: 'UTC' },
    { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
  );
  await schedule(SCHEDULER_IDS.healthSweep, { every: HEALTH_SWEEP_EVERY_MS }, { attempts: 1 });
  // Counts are refreshed by the next run; a retry would only repeat the calls that already failed.
  await schedule(SCHEDULER_IDS.countsSync, { every: config.COUNTS_SYNC_INTERVAL_MS }, { attempts: 1 });
  // The next run hands over whatever this one did not.
  await schedule(SCHEDULER_IDS.restrictionUpkeep, { every: RESTRICTION_UPKEEP_EVERY_MS }, { attempts: 1 });
  if (config.EXPORT_SCHEDULE_KINDS.length) {
    await schedule(
      SCHEDULER_IDS.scheduledExport,
      { pattern: config.EXPORT_SCHEDULE_CRON, tz: 'UTC' },
      { attempts: 3, backoff: { type: 'exponential', delay: 60_000 } },
    );
  } else {
    await queue.removeJobScheduler(SCHEDULER_IDS.scheduledExport);
  }
}
