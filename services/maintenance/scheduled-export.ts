import { enqueueExport, requestExport, type JobQueue } from '../../queues';
import type { ExportKind } from '../core/config';
import type { PrismaClient } from '../core/db';

const DAY = 86_400_000;

/**
 * The daily export: one export per configured kind, of the UTC day before `at` (the scheduled run time).
 * `groups` is a snapshot of every group, so it has no time range. Idempotent: a retried or duplicated run
 * finds the scheduled exports of that day already there and only makes sure they are enqueued.
 */
export async function runScheduledExports(
  deps: { db: PrismaClient; exportsQueue: JobQueue<'exports'> },
  kinds: readonly ExportKind[],
  at: Date,
): Promise<Array<{ kind: ExportKind; exportId: number; created: boolean }>> {
  const dayEnd = new Date(Math.floor(at.getTime() / DAY) * DAY);
  const dayStart = new Date(dayEnd.getTime() - DAY);
  const out: Array<{ kind: ExportKind; exportId: number; created: boolean }> = [];
  for (const kind of kinds) {
    const filters =
      kind === 'groups' ? { to: dayEnd.toISOString() } : { from: dayStart.toISOString(), to: dayEnd.toISOString() };
    const existing = await deps.db.export.findFirst({
      where: { scheduled: true, kind, filters: { equals: filters } },
      select: { id: true, status: true },
    });
    if (existing) {
      if (existing.status === 'queued') await enqueueExport(deps.exportsQueue, existing.id);
      out.push({ kind, exportId: existing.id, created: false });
      continue;
    }
    const row = await requestExport(deps, { kind, filters, scheduled: true });
    out.push({ kind, exportId: row.id, created: true });
  }
  return out;
}

/** Re-enqueues exports left `queued` (the enqueue after the insert failed): job ids make this idempotent. */
export async function requeueStaleExports(
  deps: { db: PrismaClient; exportsQueue: JobQueue<'exports'> },
  olderThanMs = 60_000,
): Promise<number> {
  const stale = await deps.db.export.findMany({
    where: { status: 'queued', createdAt: { lt: new Date(Date.now() - olderThanMs) } },
    select: { id: true },
    take: 100,
  });
  for (const e of stale) await enqueueExport(deps.exportsQueue, e.id);
  return stale.length;
}
