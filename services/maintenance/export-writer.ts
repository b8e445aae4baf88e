import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import type { ExportKind } from '../core/config';
import type { ExportFilters } from '../../queues';

/**
 * Writes one CSV export file: PostgreSQL writes the CSV (`COPY (SELECT …) TO STDOUT (FORMAT csv, HEADER)`, with
 * formula escaping in the SELECT: a Telegram name like `=HYPERLINK(…)` is written as `'=HYPERLINK(…)`), streamed
 * through gzip into a partial file under EXPORT_DIR, hashed and counted on the way. Only a complete file is renamed
 * to its final name; any failure removes the partial file. Memory stays flat: a few stream buffers.
 *
 * This module needs only pg, pg-copy-streams and zlib at run time (no Prisma, BullMQ or Redis), so the export
 * process (export-process.ts) stays small; the exports row is kept by runExport (export.ts).
 */

/**
 * The reason a failed export shows its requester: what went wrong in words, never PostgreSQL's or Node's own text
 * (which names tables, values and paths). The full error goes to the maintenance log.
 */
export function exportFailureReason(err: unknown): string {
  const code = (err as { code?: unknown })?.code;
  if (typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code)) {
    if (code.startsWith('22'))
      return 'a filter value was refused by the database (out of range or malformed); request the export again with other filters';
    if (code === '57014')
      return 'the database cancelled the export query (statement timeout); try a shorter time range';
    if (code.startsWith('57') || code.startsWith('08'))
      return 'the database connection was lost during the export; request it again';
    if (code.startsWith('53')) return 'the database ran out of resources during the export; try a shorter time range';
  }
  if (code === 'ENOSPC') return 'no space left in EXPORT_DIR';
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') return 'EXPORT_DIR is not writable';
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ETIMEDOUT')
    return 'could not reach the database; request the export again';
  return 'the export could not be written (the maintenance log has the details)';
}

/** A failed export: `message` is the clean reason for its requester, `detail` the original error text for the log. */
export class ExportFailedError extends Error {
  override name = 'ExportFailedError';
  constructor(
    reason: string,
    readonly detail: string,
  ) {
    super(reason);
  }
}

const PROGRESS_EVERY_MS = 1_000;
/**
 * gzip level. zlib at level 6 (the default) compresses ~40 MB of CSV a second here and was the slowest step of the
 * export; level 1 is ~3× faster for files ~25% larger.
 */
const GZIP_LEVEL = 1;
/**
 * zlib's output chunk: each one is a hop from zlib's thread back to JavaScript. 64 KB instead of the default 16 KB
 * took ~10 % off the export process' CPU (1M rows, COPY into gzip, measured in-process on this 2-core machine).
 */
const GZIP_CHUNK_BYTES = 64 * 1024;

/**
 * How a column is written: `int` as PostgreSQL prints it; `fixed` (values the schema or our own code fix:
 * timestamps, booleans, CHECK-constrained statuses, modes, method and action names) as they are; `text`
 * (anything a person or Telegram chose: titles, usernames, e-mails, addresses, JSON) formula-escaped, see csvText.
 */
type Cell = 'int' | 'fixed' | 'text';
export interface ExportQuery {
  columns: Array<[name: string, type: Cell, expression: string]>;
  /** FROM … WHERE … ORDER BY, with the filter values as escaped literals (COPY takes no bind parameters). */
  from: string;
}

const ts = (col: string) => `to_char(${col} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')`;

/**
 * Code points that make a spreadsheet read a cell as a formula when they come first: = + - @ tab CR, and the
 * full-width = + - @ that Apple Numbers treats the same. The list csv-stringify's `escape_formulas` used, which
 * wrote the files before (OWASP "CSV injection"). PostgreSQL's ascii() gives a text's first code point.
 */
const FORMULA_STARTS = ['=', '+', '-', '@', '\t', '\r', '\uFF1D', '\uFF0B', '\uFF0D', '\uFF20'].map((c) =>
  c.codePointAt(0),
);

/**
 * A text cell made safe for spreadsheets, in SQL: a value starting with a formula character gets a leading
 * apostrophe (`=HYPERLINK(…)` is written `'=HYPERLINK(…)`), as csv-stringify did. An empty string is written
 * like NULL, as an empty field, also as before (COPY would write it as `""`).
 */
const csvText = (expression: string) =>
  `CASE WHEN ascii(${expression}) IN (${FORMULA_STARTS.join(', ')}) THEN '''' || ${expression} ELSE NULLIF(${expression}, '') END`;

/**
 * Builds the export's query. COPY (SELECT …) takes no bind parameters, so each filter value is written as a
 * literal by node-postgres' escapeLiteral and cast to its type: the values were validated (exportFiltersSchema),
 * and one PostgreSQL still refuses fails the export with a clean reason (class 22, see exportFailureReason).
 */
export function exportQuery(kind: ExportKind, filters: ExportFilters): ExportQuery {
  const where: string[] = [];
  const lit = (value: string | number) => pg.escapeLiteral(String(value));
  const range = (col: string) => {
    if (filters.from) where.push(`${col} >= ${lit(filters.from)}::timestamptz`);
    if (filters.to) where.push(`${col} < ${lit(filters.to)}::timestamptz`);
  };
  const clause = () => (where.length ? `WHERE ${where.join(' AND ')}` : '');

  switch (kind) {
    case 'verifications': {
      if (filters.botId !== undefined) where.push(`v.bot_instance_id = ${lit(filters.botId)}::int`);
      if (filters.groupChatId !== undefined) where.push(`v.chat_id = ${lit(filters.groupChatId)}::bigint`);
      if (filters.status !== undefined) where.push(`v.status = ${lit(filters.status)}`);
      range('v.created_at');
      return {
        columns: [
          ['id', 'int', 'v.id'],
          ['created_at', 'fixed', ts('v.created_at')],
          ['bot_id', 'int', 'v.bot_instance_id'],
          ['bot_username', 'text', 'b.username'],
          ['group_chat_id', 'int', 'v.chat_id'],
          ['group_title', 'text', 'g.title'],
          ['user_id', 'int', 'v.user_id'],
          ['status', 'fixed', 'v.status'],
          ['latency_ms', 'int', 'v.latency_ms'],
          ['cached', 'fixed', 'v.cached::text'],
          ['error_type', 'text', 'v.error_type'],
          ['reason', 'fixed', 'v.reason'],
        ],
        from: `FROM verification_log v
              JOIN bot_instances b ON b.id = v.bot_instance_id
              LEFT JOIN protected_groups g ON g.bot_instance_id = v.bot_instance_id AND g.chat_id = v.chat_id
              ${clause()} ORDER BY v.id`,
      };
    }
    case 'api_calls': {
      if (filters.botId !== undefined) where.push(`a.bot_instance_id = ${lit(filters.botId)}::int`);
      if (filters.groupChatId !== undefined) where.push(`a.chat_id = ${lit(filters.groupChatId)}::bigint`);
      if (filters.status !== undefined) where.push(filters.status === 'success' ? 'a.success' : 'NOT a.success');
      range('a.created_at');
      return {
        columns: [
          ['id', 'int', 'a.id'],
          ['created_at', 'fixed', ts('a.created_at')],
          ['bot_id', 'int', 'a.bot_instance_id'],
          ['bot_username', 'text', 'b.username'],
          ['method', 'fixed', 'a.method'],
          ['chat_id', 'int', 'a.chat_id'],
          ['success', 'fixed', 'a.success::text'],
          ['error_code', 'int', 'a.error_code'],
          ['latency_ms', 'int', 'a.latency_ms'],
        ],
        from: `FROM api_call_log a JOIN bot_instances b ON b.id = a.bot_instance_id ${clause()} ORDER BY a.id`,
      };
    }
    case 'audit': {
      range('l.created_at');
      return {
        columns: [
          ['id', 'int', 'l.id'],
          ['created_at', 'fixed', ts('l.created_at')],
          ['actor_id', 'int', 'l.actor_id'],
          ['actor_token_id', 'int', 'l.actor_token_id'],
          ['actor_email', 'text', 'l.actor_email'],
          ['action', 'fixed', 'l.action'],
          ['resource_type', 'fixed', 'l.resource_type'],
          ['resource_id', 'text', 'l.resource_id'],
          ['ip', 'text', 'l.ip'],
          ['user_agent', 'text', 'l.user_agent'],
          ['old_values', 'text', 'l.old_values::text'],
          ['new_values', 'text', 'l.new_values::text'],
        ],
        from: `FROM admin_audit_log l ${clause()} ORDER BY l.id`,
      };
    }
    case 'groups': {
      if (filters.botId !== undefined) where.push(`g.bot_instance_id = ${lit(filters.botId)}::int`);
      if (filters.status === 'enabled') where.push('g.enabled AND g.bot_removed_at IS NULL');
      if (filters.status === 'disabled') where.push('NOT g.enabled AND g.bot_removed_at IS NULL');
      if (filters.status === 'removed') where.push('g.bot_removed_at IS NOT NULL');
      range('g.created_at');
      return {
        columns: [
          ['id', 'int', 'g.id'],
          ['bot_id', 'int', 'g.bot_instance_id'],
          ['bot_username', 'text', 'b.username'],
          ['chat_id', 'int', 'g.chat_id'],
          ['title', 'text', 'g.title'],
          ['username', 'text', 'g.username'],
          ['chat_type', 'fixed', 'g.chat_type'],
          ['enabled', 'fixed', 'g.enabled::text'],
          ['mode', 'fixed', 'g.mode'],
          ['member_count', 'int', 'g.member_count'],
          ['missing_rights', 'text', `array_to_string(g.missing_rights, ' ')`],
          ['bot_removed_at', 'fixed', ts('g.bot_removed_at')],
          ['created_at', 'fixed', ts('g.created_at')],
        ],
        from: `FROM protected_groups g JOIN bot_instances b ON b.id = g.bot_instance_id ${clause()} ORDER BY g.id`,
      };
    }
  }
}

/** The one statement that writes the whole CSV, header line included. */
export function copyStatement(query: ExportQuery): string {
  const select = query.columns
    .map(([name, type, expression]) => `${type === 'text' ? csvText(expression) : expression} AS "${name}"`)
    .join(',\n       ');
  return `COPY (SELECT ${select}\n${query.from}) TO STDOUT (FORMAT csv, HEADER)`;
}

/** What the file writer needs: plain data, so it can be handed to a child process. */
export interface ExportFileSpec {
  exportId: number;
  kind: ExportKind;
  /** Validated (exportFiltersSchema) by runExport. */
  filters: ExportFilters;
  databaseUrl: string;
  exportDir: string;
  /** @deprecated COPY streams rows as PostgreSQL produces them; there are no batches to size. Ignored. */
  fetchRows?: number;
  progressEveryMs?: number;
}

export interface ExportFile {
  rows: number;
  bytes: number;
  sha256: string;
  /** File name under EXPORT_DIR. */
  filePath: string;
  /**
   * When the file was written by a process of its own: its RSS when it got the work, its peak RSS (VmHWM), and
   * how long writing took in it (the process start is not included).
   */
  process?: { startRssMb: number; peakRssMb: number; writeMs: number };
}

export type ExportWriter = (
  spec: ExportFileSpec,
  options: { signal?: AbortSignal; onProgress?: (rows: number) => Promise<void> | void },
) => Promise<ExportFile>;

const partialName = (exportId: number) => `.export-${exportId}.partial`;
const finalName = (exportId: number, kind: string, at: Date) =>
  `export-${exportId}-${kind}-${at
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}.csv.gz`;
export const partialExportPath = (exportDir: string, exportId: number) =>
  path.join(path.resolve(exportDir), partialName(exportId));

/**
 * Counts CSV records in COPY's output as it streams by. A record ends at a newline outside quotes; COPY quotes
 * every field that holds a newline and doubles the quotes inside, so a newline is a record end exactly when the
 * quotes seen so far are even. Chunks without quotes (most of them) are counted with indexOf alone.
 */
function recordCounter() {
  let insideQuotes = false;
  return (chunk: Buffer): number => {
    let records = 0;
    if (!insideQuotes && chunk.indexOf(0x22) === -1) {
      for (let i = chunk.indexOf(0x0a); i !== -1; i = chunk.indexOf(0x0a, i + 1)) records++;
      return records;
    }
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i];
      if (c === 0x22) insideQuotes = !insideQuotes;
      else if (c === 0x0a && !insideQuotes) records++;
    }
    return records;
  };
}

/**
 * Streams the export into `<EXPORT_DIR>/.export-<id>.partial`, then renames the complete file to its final
 * name. PostgreSQL writes the CSV itself: `COPY (SELECT …) TO STDOUT (FORMAT csv, HEADER)`, one statement and so
 * one consistent snapshot, with the formula escaping in the SELECT; its output goes through pg-copy-streams into
 * gzip, hashed and counted on the way. Nothing here touches a row as a JavaScript value, which is what made the
 * cursor + csv-stringify writer slow (a string per cell) and big (garbage). Needs only pg, pg-copy-streams and
 * zlib (no Prisma), so it can run in a small process of its own (export-process.ts). Any failure removes the
 * partial file and is thrown.
 */
export async function writeExportFile(
  spec: ExportFileSpec,
  options: { signal?: AbortSignal; onProgress?: (rows: number) => Promise<void> | void } = {},
): Promise<ExportFile> {
  const partial = partialExportPath(spec.exportDir, spec.exportId);
  const client = new pg.Client({
    connectionString: spec.databaseUrl,
    application_name: `nezuko-export-${spec.exportId}`,
  });
  try {
    const statement = copyStatement(exportQuery(spec.kind, spec.filters));
    await client.connect();
    const copy = client.query(copyTo(statement));
    const hash = createHash('sha256');
    let bytes = 0;
    // The header is a line too: progress counts from -1.
    let lines = -1;
    const countRecords = recordCounter();
    const everyMs = spec.progressEveryMs ?? PROGRESS_EVERY_MS;
    let lastProgress = Date.now();
    const count = new Transform({
      async transform(chunk: Buffer, _enc, done) {
        lines += countRecords(chunk);
        if (options.onProgress && Date.now() - lastProgress >= everyMs) {
          lastProgress = Date.now();
          try {
            await options.onProgress(Math.max(0, lines));
          } catch (err) {
            return done(err as Error);
          }
        }
        done(null, chunk);
      },
    });
    const measure = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        bytes += chunk.length;
        done(null, chunk);
      },
    });
    await pipeline(
      copy,
      count,
      createGzip({ level: GZIP_LEVEL, chunkSize: GZIP_CHUNK_BYTES }),
      measure,
      createWriteStream(partial),
      {
        signal: options.signal,
      },
    );
    const rows = Math.max(0, lines);
    const filePath = finalName(spec.exportId, spec.kind, new Date());
    await rename(partial, path.join(path.resolve(spec.exportDir), filePath));
    return { rows, bytes, sha256: hash.digest('hex'), filePath };
  } catch (err) {
    await rm(partial, { force: true }).catch(() => {});
    throw err;
  } finally {
    await client.end().catch(() => {});
  }
}
