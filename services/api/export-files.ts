import { createReadStream, type ReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { exportFilePath } from '../../queues';
import type { PrismaClient } from '../core/db';

/** The download side of CSV exports: a finished export's file, streamed to its requester. */

export class ExportUnavailableError extends Error {
  override name = 'ExportUnavailableError';
  constructor(
    message: string,
    /** not_found → 404, not_ready → 409, expired → 410. */
    readonly reason: 'not_found' | 'not_ready' | 'expired',
  ) {
    super(message);
  }
}

export interface ExportDownload {
  stream: ReadStream;
  /** For Content-Disposition: attachment; filename="…". */
  fileName: string;
  contentType: 'application/gzip';
  bytes: number;
  sha256: string;
  rows: number;
}

/**
 * Opens a finished export's file for download. Throws ExportUnavailableError when the export does not
 * exist, is not done, or its file was deleted by retention.
 */
export async function openExportFile(
  deps: { db: PrismaClient; config: { EXPORT_DIR: string } },
  exportId: number,
): Promise<ExportDownload> {
  const row = await deps.db.export.findUnique({ where: { id: exportId } });
  if (!row) throw new ExportUnavailableError(`export ${exportId} not found`, 'not_found');
  if (row.status !== 'done' || !row.filePath || !row.sha256)
    throw new ExportUnavailableError(`export ${exportId} is ${row.status}`, 'not_ready');
  if (row.fileDeletedAt)
    throw new ExportUnavailableError(`export ${exportId}'s file was deleted after the retention period`, 'expired');
  const full = exportFilePath(deps.config.EXPORT_DIR, row.filePath);
  if (!full) throw new ExportUnavailableError(`export ${exportId}'s file path is outside EXPORT_DIR`, 'not_found');
  const info = await stat(full).catch(() => null);
  if (!info?.isFile()) throw new ExportUnavailableError(`export ${exportId}'s file is missing`, 'expired');
  return {
    stream: createReadStream(full),
    fileName: row.filePath,
    contentType: 'application/gzip',
    bytes: info.size,
    sha256: row.sha256,
    rows: Number(row.rows ?? 0),
  };
}
