import { addJobs, expireRestrictionJobId, reliftJobId, type JobQueue, type JobSpec } from '../../queues';
import type { PrismaClient } from '../core/db';

/** Rows handed over per kind and run: the verifiers work through them, the next run hands over the next ones. */
const BATCH = 500;

export interface RestrictionUpkeepResult {
  /** Open timed mutes past their end, handed to their bot's verifiers to close. */
  expired: number;
  /** Users lifted the old way ("to the group's defaults"), handed over for a proper lift. */
  relifts: number;
}

/**
 * What is due on restrictions, handed to each bot's own queue (the verifiers hold the Telegram side):
 * - timed mutes whose `muted_until` has passed. Each mute schedules its own `expire-restriction` job; this is
 *   the net behind it (a job lost with Redis, mutes made before the job existed). Job ids are the mute's own,
 *   so a job still waiting is not doubled.
 * - restrictions lifted by an earlier version (`relift_pending`, set by the migration that fixed lifting): one
 *   `relift` job each, until none is left, which makes it a pass that runs once.
 */
export async function restrictionUpkeep(
  db: PrismaClient,
  queueOf: (botInstanceId: number) => JobQueue<'updates'>,
): Promise<RestrictionUpkeepResult> {
  const live = { botInstance: { deletedAt: null } };
  const [expired, relifts] = await Promise.all([
    db.restriction.findMany({
      where: { liftedAt: null, mutedUntil: { lte: new Date() }, ...live },
      select: { id: true, botInstanceId: true, mutedUntil: true },
      orderBy: { mutedUntil: 'asc' },
      take: BATCH,
    }),
    db.restriction.findMany({
      where: { reliftPending: true, ...live },
      select: { id: true, botInstanceId: true },
      orderBy: { id: 'asc' },
      take: BATCH,
    }),
  ]);
  const jobs = new Map<number, Array<JobSpec<'updates'>>>();
  const add = (botInstanceId: number, job: JobSpec<'updates'>) => {
    const list = jobs.get(botInstanceId) ?? [];
    list.push(job);
    jobs.set(botInstanceId, list);
  };
  for (const r of expired) {
    add(r.botInstanceId, {
      name: 'expire-restriction',
      data: { botInstanceId: r.botInstanceId, restrictionId: r.id },
      opts: { jobId: expireRestrictionJobId(r.botInstanceId, r.id, r.mutedUntil!) },
    });
  }
  for (const r of relifts) {
    add(r.botInstanceId, {
      name: 'relift',
      data: { botInstanceId: r.botInstanceId, restrictionId: r.id },
      opts: { jobId: reliftJobId(r.botInstanceId, r.id) },
    });
  }
  for (const [botInstanceId, list] of jobs) await addJobs(queueOf(botInstanceId), list);
  return { expired: expired.length, relifts: relifts.length };
}
