import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { once } from 'node:events';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { stringify } from 'csv-stringify';
import pg from 'pg';
import type { ExportKind } from '../core/config';
import type { PrismaClient } from '../core/db';
import { exportFilePath, exportFiltersSchema, type ExportFilters } from '../core/exports';
import type { Logger } from '../core/logger';
import type { Metrics } from '../core/metrics';

/**
 * Writes one CSV export: rows stream from a PostgreSQL cursor (DECLARE … CURSOR / FETCH in a read-only
 * repeatable-read transaction, so the file is one consistent snapshot) through csv-stringify (escape_formulas:
 * a Telegram name like `=HYPERLINK(…)` is written as `'=HYPERLINK(…)`) and gzip into a partial file under
 * EXPORT_DIR, hashed and counted on the way. Only a complete file is renamed to its final name; any failure
 * removes the partial file and marks the row failed with the reason. Memory stays flat: one FETCH batch at a time.
 */

const FETCH_ROWS = 5_000;
const PROGRESS_EVERY_MS = 1_000;

type Cell = 'int' | 'text';
interface ExportQuery {
  columns: Array<[name: string, type: Cell]>;
  sql: string;
  params: unknown[];
}

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/** Builds the export's SELECT with its filters as parameters (never interpolated). */
export function exportQuery(kind: ExportKind, filters: ExportFilters): ExportQuery {
  const params: unknown[] = [];
  const where: string[] = [];
  const p = (value: unknown) => {
    params.push(value);
    return `$${params.length}`;
  };
  const range = (col: string) => {
    if (filters.from) where.push(`${col} >= ${p(filters.from)}::timestamptz`);
    if (filters.to) where.push(`${col} < ${p(filters.to)}::timestamptz`);
  };
  const clause = () => (where.length ? `WHERE ${where.join(' AND ')}` : '');

  switch (kind) {
    case 'verifications': {
      if (filters.botId !== undefined) where.push(`v.bot_instance_id = ${p(filters.botId)}::int`);
      if (filters.groupChatId !== undefined) where.push(`v.chat_id = ${p(filters.groupChatId)}::bigint`);
      if (filters.status !== undefined) where.push(`v.status = ${p(filters.status)}`);
      range('v.created_at');
      return {
        columns: [['id', 'int'], ['created_at', 'text'], ['bot_id', 'int'], ['bot_username', 'text'], ['group_chat_id', 'int'], ['group_title', 'text'],
          ['user_id', 'int'], ['status', 'text'], ['latency_ms', 'int'], ['cached', 'text'], ['error_type', 'text']],
        sql: `SELECT v.id::text, ${ts('v.created_at')}, v.bot_instance_id::text, b.username, v.chat_id::text, g.title, v.user_id::text,
                v.status, v.latency_ms::text, v.cached::text, v.error_type
              FROM verification_log v
              JOIN bot_instances b ON b.id = v.bot_instance_id
              LEFT JOIN protected_groups g ON g.bot_instance_id = v.bot_instance_id AND g.chat_id = v.chat_id
              ${clause()} ORDER BY v.id`,
        params,
      };
    }
    case 'api_calls': {
      if (filters.botId !== undefined) where.push(`a.bot_instance_id = ${p(filters.botId)}::int`);
      if (filters.groupChatId !== undefined) where.push(`a.chat_id = ${p(filters.groupChatId)}::bigint`);
      if (filters.status !== undefined) where.push(filters.status === 'success' ? 'a.success' : 'NOT a.success');
      range('a.created_at');
      return {
        columns: [['id', 'int'], ['created_at', 'text'], ['bot_id', 'int'], ['bot_username', 'text'], ['method', 'text'], ['chat_id', 'int'],
          ['success', 'text'], ['error_code', 'int'], ['latency_ms', 'int']],
        sql: `SELECT a.id::text, ${ts('a.created_at')}, a.bot_instance_id::text, b.username, a.method, a.chat_id::text,
                a.success::text, a.error_code::text, a.latency_ms::text
              FROM api_call_log a JOIN bot_instances b ON b.id = a.bot_instance_id
              ${clause()} ORDER BY a.id`,
        params,
      };
    }
    case 'audit': {
      range('l.created_at');
      return {
        columns: [['id', 'int'], ['created_at', 'text'], ['actor_id', 'int'], ['actor_token_id', 'int'], ['actor_email', 'text'], ['action', 'text'],
          ['resource_type', 'text'], ['resource_id', 'text'], ['ip', 'text'], ['user_agent', 'text'], ['old_values', 'text'], ['new_values', 'text']],
        sql: `SELECT l.id::text, ${ts('l.created_at')}, l.actor_id::text, l.actor_token_id::text, l.actor_email, l.action,
                l.resource_type, l.resource_id, l.ip, l.user_agent, l.old_values::text, l.new_values::text
              FROM admin_audit_log l ${clause()} ORDER BY l.id`,
        params,
      };
    }
    case 'groups': {
      if (filters.botId !== undefined) where.push(`g.bot_instance_id = ${p(filters.botId)}::int`);
      if (filters.status === 'enabled') where.push('g.enabled AND g.bot_removed_at IS NULL');
      if (filters.status === 'disabled') where.push('NOT g.enabled AND g.bot_removed_at IS NULL');
      if (filters.status === 'removed') where.push('g.bot_removed_at IS NOT NULL');
      range('g.created_at');
      return {
        columns: [['id', 'int'], ['bot_id', 'int'], ['bot_username', 'text'], ['chat_id', 'int'], ['title', 'text'], ['username', 'text'],
          ['chat_type', 'text'], ['enabled', 'text'], ['mode', 'text'], ['member_count', 'int'], ['missing_rights', 'text'],
          ['bot_removed_at', 'text'], ['created_at', 'text']],
        sql: `SELECT g.id::text, g.bot_instance_id::text, b.username, g.chat_id::text, g.title, g.username, g.chat_type,
                g.enabled::text, g.mode, g.member_count::text, array_to_string(g.missing_rights, ' '), ${ts('g.bot_removed_at')}, ${ts('g.created_at')}
              FROM protected_groups g JOIN bot_instances b ON b.id = g.bot_instance_id
              ${clause()} ORDER BY g.id`,
        params,
      };
    }
  }
}

export interface ExportDeps {
  db: PrismaClient;
  databaseUrl: string;
  exportDir: string;
  log: Logger;
  metrics?: Metrics;
}

export interface ExportRunOptions {
  onProgress?: (rows: number) => Promise<void> | void;
  signal?: AbortSignal;
  /** Rows per FETCH. */
  fetchRows?: number;
  /** Minimum time between progress updates (exports row and job progress). */
  progressEveryMs?: number;
}

export type ExportOutcome =
  | { status: 'done'; rows: number; bytes: number; sha256: string; filePath: string }
  | { status: 'failed'; error: string }
  | { status: 'skipped'; reason: string };

const partialName = (exportId: number) => `.export-${exportId}.partial`;
const finalName = (exportId: number, kind: string, at: Date) =>
  `export-${exportId}-${kind}-${at.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z')}.csv.gz`;

/** Converts integer columns (text from PostgreSQL, so bigint ids stay exact) to bigint: csv-stringify leaves numbers unescaped. */
function converter(columns: ExportQuery['columns']) {
  const ints = columns.map(([, type]) => type === 'int');
  return (row: unknown[]) => {
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (ints[i] && typeof v === 'string') row[i] = BigInt(v);
    }
    return row;
  };
}

/**
 * Runs export `exportId`: queued → running → done | failed. Claims the row atomically, so a duplicate job
 * does nothing; a row found `running` was interrupted by a crash mid-export: its partial file is removed and
 * it is marked failed (request it again).
 */
export async function runExport(deps: ExportDeps, exportId: number, options: ExportRunOptions = {}): Promise<ExportOutcome> {
  const { db } = deps;
  await mkdir(deps.exportDir, { recursive: true });
  const partial = path.join(path.resolve(deps.exportDir), partialName(exportId));

  const claimed = await db.export.updateMany({ where: { id: exportId, status: 'queued' }, data: { status: 'running', startedAt: new Date(), progressRows: 0, error: null } });
  if (claimed.count === 0) {
    const row = await db.export.findUnique({ where: { id: exportId } });
    if (!row) return { status: 'skipped', reason: 'no such export' };
    if (row.status !== 'running') return { status: 'skipped', reason: `already ${row.status}` };
    await rm(partial, { force: true });
    const error = 'interrupted: the export worker stopped mid-export; request it again';
    await db.export.update({ where: { id: exportId }, data: { status: 'failed', error, finishedAt: new Date() } });
    return { status: 'failed', error };
  }
  const row = (await db.export.findUnique({ where: { id: exportId } }))!;
  const kind = row.kind as ExportKind;
  const started = Date.now();
  const client = new pg.Client({ connectionString: deps.databaseUrl, application_name: `nezuko-export-${exportId}` });
  let rows = 0;
  try {
    const filters = exportFiltersSchema.parse(row.filters);
    const query = exportQuery(kind, filters);
    await client.connect();
    await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
    // The whole result is read: plan for total time (hash joins), not for the first rows (nested loops).
    await client.query('SET LOCAL cursor_tuple_fraction = 1.0');
    await client.query(`DECLARE export_cursor NO SCROLL CURSOR FOR ${query.sql}`, query.params);

    const convert = converter(query.columns);
    const fetchRows = options.fetchRows ?? FETCH_ROWS;
    const hash = createHash('sha256');
    let bytes = 0;
    const measure = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    const csv = stringify({ header: true, columns: query.columns.map(([name]) => name), escape_formulas: true });
    const written = pipeline(csv, coalesce(64 * 1024), createGzip({ level: 6 }), measure, createWriteStream(partial), { signal: options.signal });
    written.catch(() => {}); // awaited below; a failure there also surfaces through csv.write
    let lastProgress = Date.now();
    // Feed the stringifier batch by batch, waiting for it to drain: one FETCH batch in memory at a time.
    for (;;) {
      const batch = await client.query<unknown[]>({ text: `FETCH ${fetchRows} FROM export_cursor`, rowMode: 'array' });
      for (const r of batch.rows) {
        if (!csv.write(convert(r))) await once(csv, 'drain', { signal: options.signal });
      }
      rows += batch.rows.length;
      if (batch.rows.length < fetchRows) break;
      options.signal?.throwIfAborted();
      if (Date.now() - lastProgress >= (options.progressEveryMs ?? PROGRESS_EVERY_MS)) {
        lastProgress = Date.now();
        await db.export.update({ where: { id: exportId }, data: { progressRows: rows } });
        await options.onProgress?.(rows);
      }
    }
    csv.end();
    await written;
    await client.query('COMMIT');
    const sha256 = hash.digest('hex');
    const finishedAt = new Date();
    const filePath = finalName(exportId, kind, finishedAt);
    await rename(partial, exportFilePath(deps.exportDir, filePath));
    await db.export.update({
      where: { id: exportId },
      data: { status: 'done', rows, progressRows: rows, bytes, sha256, filePath, finishedAt, error: null },
    });
    await options.onProgress?.(rows);
    deps.metrics?.exportRows.inc({ kind }, rows);
    deps.metrics?.exportDuration.observe({ kind, outcome: 'done' }, (Date.now() - started) / 1000);
    deps.log.info('export done', { exportId, kind, rows, bytes, ms: Date.now() - started });
    return { status: 'done', rows, bytes, sha256, filePath };
  } catch (err) {
    await rm(partial, { force: true }).catch(() => {});
    const error = describe(err, options.signal);
    await db.export
      .update({ where: { id: exportId }, data: { status: 'failed', error, progressRows: rows, finishedAt: new Date() } })
      .catch((e) => deps.log.error('could not mark export failed', { exportId, err: e }));
    deps.metrics?.exportDuration.observe({ kind, outcome: 'failed' }, (Date.now() - started) / 1000);
    deps.log.warn('export failed', { exportId, kind, error });
    return { status: 'failed', error };
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * csv-stringify emits one chunk per record; handing each to gzip costs a zlib call (a thread-pool round trip)
 * per row. Collecting them into ~64 KiB chunks makes the export several times faster.
 */
function coalesce(size: number): Transform {
  let parts: Buffer[] = [];
  let length = 0;
  return new Transform({
    transform(chunk: Buffer | string, _enc, done) {
      const buf = typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
      parts.push(buf);
      length += buf.length;
      if (length < size) return done();
      const out = Buffer.concat(parts, length);
      parts = [];
      length = 0;
      done(null, out);
    },
    flush(done) {
      done(null, length ? Buffer.concat(parts, length) : undefined);
    },
  });
}

function describe(err: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return 'interrupted: the export worker shut down mid-export; request it again';
  const message = err instanceof Error ? err.message : String(err);
  return message.slice(0, 500) || 'unknown error';
}
