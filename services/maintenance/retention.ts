import { rm } from 'node:fs/promises';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import type { PrismaClient } from '../core/db';
import { exportFilePath } from '../../queues';
import type { Metrics } from '../core/metrics';
import { readWatermark } from './rollup';

/**
 * Retention, daily. Each delete is a statement of at most `batchSize` rows (its own short transaction, on
 * the created_at index), looped until nothing is left, so live inserts are never blocked for long; a crash
 * simply leaves fewer rows for the next run (every step is idempotent, so it resumes by running again).
 *
 * - verification_log and api_call_log: rows older than RETENTION_DAYS, and only rows the rollup has already
 *   counted (id ≤ its watermark), so retention never loses statistics.
 * - verification_stats_hourly and api_call_stats_hourly: hours older than STATS_RETENTION_DAYS.
 * - admin_sessions: expired or revoked more than a day ago.
 * - log_batches (keys of written log batches, see log-writer.ts): older than a day.
 * - export files: EXPORT_RETENTION_DAYS after they finished (the row stays, with file_deleted_at), and
 *   partial files nobody is writing any more.
 * - admin_audit_log is kept: it is the record of who changed what, small, and not ours to forget.
 */

export interface RetentionConfig {
  RETENTION_DAYS: number;
  STATS_RETENTION_DAYS: number;
  EXPORT_RETENTION_DAYS: number;
  EXPORT_DIR: string;
}

export interface RetentionOptions {
  batchSize?: number;
  now?: Date;
  /** Called after each batch statement with its duration, for the benchmark. */
  onBatch?: (table: string, rows: number, ms: number) => void;
}

export type RetentionResult = Record<string, number>;

const DAY = 86_400_000;

async function deleteInBatches(
  db: PrismaClient,
  table: string,
  statement: (batch: number) => Promise<number>,
  batchSize: number,
  options: RetentionOptions,
  metrics?: Metrics,
): Promise<number> {
  let total = 0;
  for (;;) {
    const started = performance.now();
    const n = await statement(batchSize);
    options.onBatch?.(table, n, performance.now() - started);
    total += n;
    if (n) metrics?.retentionDeleted.inc({ table }, n);
    if (n < batchSize) return total;
  }
}

export async function runRetention(
  deps: { db: PrismaClient; config: RetentionConfig; metrics?: Metrics },
  options: RetentionOptions = {},
): Promise<RetentionResult> {
  const { db, config, metrics } = deps;
  const batch = options.batchSize ?? 5_000;
  const now = options.now ?? new Date();
  const logCutoff = new Date(now.getTime() - config.RETENTION_DAYS * DAY);
  const statsCutoff = new Date(now.getTime() - config.STATS_RETENTION_DAYS * DAY);
  const result: RetentionResult = {};

  const verificationMark = await readWatermark(db, 'verification_log');
  result.verification_log = await deleteInBatches(
    db,
    'verification_log',
    (n) => db.$executeRaw`
    DELETE FROM verification_log WHERE id IN (
      SELECT id FROM verification_log WHERE created_at < ${logCutoff} AND id <= ${verificationMark} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  const apiMark = await readWatermark(db, 'api_call_log');
  result.api_call_log = await deleteInBatches(
    db,
    'api_call_log',
    (n) => db.$executeRaw`
    DELETE FROM api_call_log WHERE id IN (
      SELECT id FROM api_call_log WHERE created_at < ${logCutoff} AND id <= ${apiMark} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  result.verification_stats_hourly = await deleteInBatches(
    db,
    'verification_stats_hourly',
    (n) => db.$executeRaw`
    DELETE FROM verification_stats_hourly WHERE ctid IN (
      SELECT ctid FROM verification_stats_hourly WHERE hour < ${statsCutoff} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  result.api_call_stats_hourly = await deleteInBatches(
    db,
    'api_call_stats_hourly',
    (n) => db.$executeRaw`
    DELETE FROM api_call_stats_hourly WHERE ctid IN (
      SELECT ctid FROM api_call_stats_hourly WHERE hour < ${statsCutoff} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  const dayAgo = new Date(now.getTime() - DAY);
  result.admin_sessions = await deleteInBatches(
    db,
    'admin_sessions',
    (n) => db.$executeRaw`
    DELETE FROM admin_sessions WHERE id IN (
      SELECT id FROM admin_sessions WHERE expires_at < ${dayAgo} OR revoked_at < ${dayAgo} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  // A batch key matters only while its batch may still be retried: seconds to minutes.
  result.log_batches = await deleteInBatches(
    db,
    'log_batches',
    (n) => db.$executeRaw`
    DELETE FROM log_batches WHERE id IN (SELECT id FROM log_batches WHERE written_at < ${dayAgo} LIMIT ${n})`,
    batch,
    options,
    metrics,
  );

  result.export_files = await deleteExpiredExportFiles(db, config, now, metrics);
  return result;
}

/** Deletes export files past EXPORT_RETENTION_DAYS (marking file_deleted_at) and stale partial files. */
export async function deleteExpiredExportFiles(
  db: PrismaClient,
  config: RetentionConfig,
  now: Date,
  metrics?: Metrics,
): Promise<number> {
  const cutoff = new Date(now.getTime() - config.EXPORT_RETENTION_DAYS * DAY);
  const expired = await db.export.findMany({
    where: { status: 'done', fileDeletedAt: null, finishedAt: { lt: cutoff } },
    select: { id: true, filePath: true },
  });
  for (const e of expired) {
    // A path outside EXPORT_DIR is never touched; the row is still marked.
    const file = e.filePath ? exportFilePath(config.EXPORT_DIR, e.filePath) : null;
    if (file) await rm(file, { force: true }).catch(() => {});
    await db.export.update({ where: { id: e.id }, data: { fileDeletedAt: now } });
  }
  if (expired.length) metrics?.retentionDeleted.inc({ table: 'export_files' }, expired.length);

  // Partial files of exports that are no longer running (a crashed process), older than a day.
  const dir = path.resolve(config.EXPORT_DIR);
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    const m = /^\.export-(\d+)\.partial$/.exec(name);
    if (!m) continue;
    const info = await stat(path.join(dir, name)).catch(() => null);
    if (!info || now.getTime() - info.mtimeMs < DAY) continue;
    const row = await db.export.findUnique({ where: { id: Number(m[1]) }, select: { status: true } });
    if (row?.status !== 'running') await rm(path.join(dir, name), { force: true });
  }
  return expired.length;
}
