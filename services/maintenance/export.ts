import { fork } from 'node:child_process';
import { mkdir, rm } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { ExportKind } from '../core/config';
import type { PrismaClient } from '../core/db';
import { exportFiltersSchema } from '../../queues';
import type { Logger } from '../core/logger';
import type { Metrics } from '../core/metrics';
import type { ExportProcessMessage } from './export-process';
import { ZodError } from 'zod';
import {
  ExportFailedError,
  exportFailureReason,
  partialExportPath,
  writeExportFile,
  type ExportFile,
  type ExportWriter,
} from './export-writer';

export { exportQuery, writeExportFile, type ExportFile, type ExportFileSpec, type ExportWriter } from './export-writer';

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
  /** Writes the file: in this process by default; the maintenance role passes `writeExportFileInChild`. */
  writer?: ExportWriter;
}

export type ExportOutcome =
  ({ status: 'done' } & ExportFile) | { status: 'failed'; error: string } | { status: 'skipped'; reason: string };

/**
 * Runs export `exportId`: queued → running → done | failed. Claims the row atomically, so a duplicate job
 * does nothing; a row found `running` was interrupted by a crash mid-export: its partial file is removed and
 * it is marked failed (request it again). The file itself is written by `options.writer`.
 */
export async function runExport(
  deps: ExportDeps,
  exportId: number,
  options: ExportRunOptions = {},
): Promise<ExportOutcome> {
  const { db } = deps;
  await mkdir(deps.exportDir, { recursive: true });
  const partial = partialExportPath(deps.exportDir, exportId);

  const claimed = await db.export.updateMany({
    where: { id: exportId, status: 'queued' },
    data: { status: 'running', startedAt: new Date(), progressRows: 0, error: null },
  });
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
  let rows = 0;
  try {
    const filters = exportFiltersSchema.parse(row.filters);
    const write = options.writer ?? writeExportFile;
    const file = await write(
      {
        exportId,
        kind,
        filters,
        databaseUrl: deps.databaseUrl,
        exportDir: deps.exportDir,
        fetchRows: options.fetchRows,
        progressEveryMs: options.progressEveryMs,
      },
      {
        signal: options.signal,
        onProgress: async (n) => {
          rows = n;
          await db.export.update({ where: { id: exportId }, data: { progressRows: n } });
          await options.onProgress?.(n);
        },
      },
    );
    rows = file.rows;
    const finishedAt = new Date();
    await db.export.update({
      where: { id: exportId },
      data: {
        status: 'done',
        rows,
        progressRows: rows,
        bytes: file.bytes,
        sha256: file.sha256,
        filePath: file.filePath,
        finishedAt,
        error: null,
      },
    });
    await options.onProgress?.(rows);
    deps.metrics?.exportRows.inc({ kind }, rows);
    deps.metrics?.exportDuration.observe({ kind, outcome: 'done' }, (Date.now() - started) / 1000);
    deps.log.info('export done', {
      exportId,
      kind,
      rows,
      bytes: file.bytes,
      ms: Date.now() - started,
      process: file.process,
    });
    return { status: 'done', ...file };
  } catch (err) {
    // The writer removes its partial file; this covers a writer process that died before it could.
    await rm(partial, { force: true }).catch(() => {});
    const error = describe(err, options.signal);
    const detail = err instanceof ExportFailedError ? err.detail : err instanceof Error ? err.message : String(err);
    await db.export
      .update({
        where: { id: exportId },
        data: { status: 'failed', error, progressRows: rows, finishedAt: new Date() },
      })
      .catch((e) => deps.log.error('could not mark export failed', { exportId, err: e }));
    deps.metrics?.exportDuration.observe({ kind, outcome: 'failed' }, (Date.now() - started) / 1000);
    deps.log.warn('export failed', { exportId, kind, error, detail });
    return { status: 'failed', error };
  }
}

/** export-process.ts beside this file: its compiled .js in the build (plain node), else the source through tsx. */
const COMPILED = import.meta.url.endsWith('.js');
const EXPORT_PROCESS = fileURLToPath(
  new URL(COMPILED ? './export-process.js' : './export-process.ts', import.meta.url),
);
/**
 * The export process' V8 old-space limit: a guard, not a tuning. Its heap holds stream buffers only (PostgreSQL
 * writes the CSV); this keeps a runaway from growing past what an export may use.
 */
const EXPORT_PROCESS_HEAP_MB = 96;
/** After SIGTERM, how long the export process gets to remove its partial file and exit. */
const EXPORT_PROCESS_KILL_AFTER_MS = 5_000;

/**
 * Writes the file in a process of its own (export-process.ts), so a long export's memory never adds to the
 * maintenance process and its peak RSS is the export's alone. Aborting sends SIGTERM (SIGKILL after 5 s).
 */
export const writeExportFileInChild: ExportWriter = (spec, options) => writeInProcess(EXPORT_PROCESS, spec, options);

/** Runs `script` (a module speaking export-process.ts' messages) in a child process and hands it `spec`. */
export const writeInProcess = (
  script: string,
  spec: Parameters<ExportWriter>[0],
  options: Parameters<ExportWriter>[1],
): Promise<ExportFile> =>
  new Promise<ExportFile>((resolve, reject) => {
    const child = fork(script, [], {
      execArgv: [...(COMPILED ? [] : ['--import', 'tsx']), `--max-old-space-size=${EXPORT_PROCESS_HEAP_MB}`],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    let settled: { file?: ExportFile; error?: string; detail?: string } | undefined;
    let progress = Promise.resolve();
    let killTimer: NodeJS.Timeout | undefined;
    const onAbort = () => {
      child.kill('SIGTERM');
      killTimer = setTimeout(() => child.kill('SIGKILL'), EXPORT_PROCESS_KILL_AFTER_MS);
    };
    options.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('message', (message: ExportProcessMessage) => {
      if (message.type === 'ready') {
        if (!options.signal?.aborted) child.send(spec);
      } else if (message.type === 'progress')
        progress = progress.then(() => options.onProgress?.(message.rows)).catch(() => {});
      else
        settled = message.type === 'done' ? { file: message.file } : { error: message.error, detail: message.detail };
    });
    child.once('error', (err) => {
      settled ??= { error: 'could not start the export process', detail: err.message };
      if (child.pid === undefined) reject(new ExportFailedError(settled.error!, settled.detail ?? '')); // never started: no 'exit' follows
    });
    child.once('exit', (code, signal) => {
      clearTimeout(killTimer);
      options.signal?.removeEventListener('abort', onAbort);
      void progress.then(() => {
        if (settled?.file) resolve(settled.file);
        else if (settled?.error) reject(new ExportFailedError(settled.error, settled.detail ?? settled.error));
        else
          reject(
            new ExportFailedError(
              'the export process stopped before it finished',
              `exited with ${signal ?? `code ${code}`}`,
            ),
          );
      });
    });
    if (options.signal?.aborted) onAbort();
  });

/** What the exports row says went wrong: a clean reason (see exportFailureReason), never the raw error. */
function describe(err: unknown, signal?: AbortSignal): string {
  if (signal?.aborted) return 'interrupted: the export worker shut down mid-export; request it again';
  if (err instanceof ExportFailedError) return err.message;
  if (err instanceof ZodError)
    return `the stored filters are not valid any more (${err.issues.map((i) => `${i.path.join('.') || 'filters'}: ${i.message}`).join('; ')}); request the export again`;
  return exportFailureReason(err);
}
