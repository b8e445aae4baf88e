import path from 'node:path';
import { z } from 'zod';
import { EXPORT_KINDS, type ExportKind } from '../services/core/config';
import type { Export, PrismaClient } from '../services/core/db';
import { exportJobId } from './jobs';
import { addJob, type JobQueue } from './queue';

/**
 * Export requests: what the admin API and the daily export (maintenance) ask for, and where the file the
 * maintenance role writes (services/maintenance/export.ts) is found. Downloads are the API's.
 */

export { EXPORT_KINDS, type ExportKind };

/** Allowed `status` filter values per kind. */
export const EXPORT_STATUS_FILTERS: Record<ExportKind, readonly string[]> = {
  verifications: ['verified', 'restricted', 'approved', 'declined', 'skipped', 'error'],
  api_calls: ['success', 'failure'],
  groups: ['enabled', 'disabled', 'removed'],
  audit: [],
};

// Every filter is checked here, before the export is queued, against what PostgreSQL will take: a value it would
// refuse (year 0000, an id past its column's range, a NUL byte) is a 400 now, not a failed export later.
const isoDate = z.iso
  .datetime({ offset: true, message: 'expected an ISO 8601 date-time, e.g. 2026-01-31T00:00:00Z' })
  .refine((v) => {
    const year = new Date(v).getUTCFullYear();
    return year >= 1 && year <= 9999;
  }, 'the year must be 0001 to 9999');
const INT8 = 2n ** 63n;
const telegramChatId = z
  .union([
    z.number().int().min(Number.MIN_SAFE_INTEGER).max(Number.MAX_SAFE_INTEGER),
    z.string().regex(/^-?\d{1,19}$/, 'expected a Telegram chat id'),
  ])
  .transform((v) => String(v))
  .refine((v) => BigInt(v) >= -INT8 && BigInt(v) < INT8, 'out of range for a chat id');

/**
 * Export filters (all optional): botId, groupChatId (Telegram id of the group), status, and a time range
 * [from, to) on created_at. `audit` has no bot, group or status; `groups` has no group filter.
 */
export const exportFiltersSchema = z
  .strictObject({
    botId: z.number().int().positive().max(2_147_483_647, 'out of range for a bot id').optional(),
    groupChatId: telegramChatId.optional(),
    status: z.string().min(1).max(20).optional(), // one of EXPORT_STATUS_FILTERS, checked below
    from: isoDate.optional(),
    to: isoDate.optional(),
  })
  .refine((f) => !f.from || !f.to || Date.parse(f.from) < Date.parse(f.to), {
    message: '`from` must be before `to`',
    path: ['to'],
  });
export type ExportFilters = z.infer<typeof exportFiltersSchema>;

export const exportRequestSchema = z.object({
  kind: z.enum(EXPORT_KINDS),
  filters: exportFiltersSchema.prefault({}),
});

export class ExportRequestError extends Error {
  override name = 'ExportRequestError';
}

/** Validates filters for a kind; throws ExportRequestError (→ 400) naming the problem. */
export function parseExportRequest(input: unknown): { kind: ExportKind; filters: ExportFilters } {
  const result = exportRequestSchema.safeParse(input);
  if (!result.success) {
    throw new ExportRequestError(
      result.error.issues.map((i) => `${i.path.join('.') || 'request'}: ${i.message}`).join('; '),
    );
  }
  const { kind, filters } = result.data;
  const allowed = EXPORT_STATUS_FILTERS[kind];
  if (filters.status !== undefined && !allowed.includes(filters.status)) {
    throw new ExportRequestError(
      allowed.length
        ? `filters.status: expected one of ${allowed.join(', ')} for ${kind}`
        : `filters.status: not available for ${kind}`,
    );
  }
  if (kind === 'audit' && (filters.botId !== undefined || filters.groupChatId !== undefined)) {
    throw new ExportRequestError('filters: the audit log has no bot or group filter');
  }
  if (kind === 'groups' && filters.groupChatId !== undefined)
    throw new ExportRequestError('filters.groupChatId: not available for groups');
  return { kind, filters };
}

export interface RequestExportDeps {
  db: PrismaClient;
  exportsQueue: JobQueue<'exports'>;
}

export interface RequestExportInput {
  kind: ExportKind;
  filters?: unknown;
  requestedById?: number | null;
  scheduled?: boolean;
}

/** Enqueues the job of an exports row; idempotent (job id export-<id>). */
export async function enqueueExport(queue: JobQueue<'exports'>, exportId: number): Promise<void> {
  // One attempt: a failed export is marked failed with its reason and can be requested again.
  await addJob(queue, 'export', { exportId }, { jobId: exportJobId(exportId), attempts: 1 });
}

/**
 * Creates a queued exports row and enqueues its job. Throws ExportRequestError for bad filters.
 * (If the enqueue fails after the row exists, the retention job re-enqueues queued rows older than a minute.)
 */
export async function requestExport(deps: RequestExportDeps, input: RequestExportInput): Promise<Export> {
  const { kind, filters } = parseExportRequest({ kind: input.kind, filters: input.filters ?? {} });
  const row = await deps.db.export.create({
    data: {
      kind,
      filters,
      requestedById: input.requestedById ?? null,
      scheduled: input.scheduled ?? false,
      status: 'queued',
    },
  });
  await enqueueExport(deps.exportsQueue, row.id);
  return row;
}

/** Resolves a stored file name inside EXPORT_DIR; null for anything that would leave it. */
export function exportFilePath(exportDir: string, fileName: string): string | null {
  const root = path.resolve(exportDir);
  const full = path.resolve(root, fileName);
  return path.dirname(full) === root && path.basename(full) === fileName ? full : null;
}
