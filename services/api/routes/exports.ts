import { z } from 'zod';
import { EXPORT_KINDS, ExportRequestError, exportFiltersSchema, requestExport } from '../../../queues';
import { Prisma } from '../../core/db';
import { audit } from '../audit';
import { ExportUnavailableError, openExportFile } from '../export-files';
import type { ApiDeps } from '../deps';
import { ApiError, notFound } from '../errors';
import { windowPage } from '../pagination';
import * as R from '../responses';
import { defineRoute, type AnyRoute } from '../routing';
import { idParams, pageQuery } from '../schemas';

const exportSelect = {
  id: true,
  kind: true,
  filters: true,
  status: true,
  progressRows: true,
  rows: true,
  bytes: true,
  sha256: true,
  fileDeletedAt: true,
  requestedById: true,
  scheduled: true,
  error: true,
  startedAt: true,
  finishedAt: true,
  createdAt: true,
} as const;

// The same fields as exportSelect, for the list page (one query with a window count).
const exportColumns = Prisma.sql`e.id, e.kind, e.filters, e.status, e.progress_rows AS "progressRows", e.rows, e.bytes, e.sha256,
  e.file_deleted_at AS "fileDeletedAt", e.requested_by_id AS "requestedById", e.scheduled, e.error, e.started_at AS "startedAt",
  e.finished_at AS "finishedAt", e.created_at AS "createdAt"`;

export function exportRoutes({ ctx, queues }: ApiDeps): AnyRoute[] {
  return [
    defineRoute({
      method: 'get',
      path: '/exports',
      summary: 'List CSV exports',
      tag: 'exports',
      access: 'viewer',
      response: R.pageOfItems(R.exportJob),
      query: z.object({
        ...pageQuery,
        kind: z.enum(EXPORT_KINDS).optional(),
        status: z.enum(['queued', 'running', 'done', 'failed']).optional(),
      }),
      handler: async ({ query }) => {
        const where: Prisma.Sql[] = [];
        if (query.kind) where.push(Prisma.sql`e.kind = ${query.kind}`);
        if (query.status) where.push(Prisma.sql`e.status = ${query.status}`);
        return windowPage(
          ctx.db,
          { select: exportColumns, from: Prisma.sql`exports e`, where, orderBy: Prisma.sql`e.id DESC` },
          query.page,
          query.per_page,
        );
      },
    }),
    defineRoute({
      method: 'post',
      path: '/exports',
      summary: 'Request a CSV export (gzip), written in the background by the maintenance role',
      tag: 'exports',
      access: 'admin',
      response: R.exportJob,
      status: 202,
      body: z.object({ kind: z.enum(EXPORT_KINDS), filters: exportFiltersSchema.optional() }),
      handler: async ({ body, auth, req }) => {
        try {
          const row = await requestExport(
            { db: ctx.db, exportsQueue: queues.exports() },
            { kind: body.kind, filters: body.filters ?? {}, requestedById: auth.userId },
          );
          await audit(ctx, req, auth, {
            action: 'export.create',
            resourceType: 'export',
            resourceId: row.id,
            newValues: { kind: row.kind, filters: row.filters },
          });
          return ctx.db.export.findUnique({ where: { id: row.id }, select: exportSelect });
        } catch (err) {
          if (err instanceof ExportRequestError) throw new ApiError(400, 'validation_failed', err.message);
          throw err;
        }
      },
    }),
    defineRoute({
      method: 'get',
      path: '/exports/:id',
      summary: "Get an export's status and progress",
      tag: 'exports',
      access: 'viewer',
      response: R.exportJob,
      params: idParams,
      handler: async ({ params }) => {
        const row = await ctx.db.export.findUnique({ where: { id: params.id }, select: exportSelect });
        if (!row) throw notFound('Export');
        return row;
      },
    }),
    defineRoute({
      method: 'get',
      path: '/exports/:id/download',
      summary: 'Download a finished export (application/gzip)',
      tag: 'exports',
      access: 'admin',
      response: z.string(),
      produces: 'application/gzip',
      errors: { 409: 'Not finished yet', 410: 'The file was deleted (retention)' },
      params: idParams,
      handler: async ({ params, res }) => {
        try {
          const file = await openExportFile(ctx, params.id);
          res.status(200).set({
            'content-type': file.contentType,
            'content-length': String(file.bytes),
            'content-disposition': `attachment; filename="${file.fileName.replace(/[^\w.-]/g, '_')}"`,
            'x-content-sha256': file.sha256,
            'cache-control': 'no-store',
          });
          await new Promise<void>((resolve, reject) => {
            file.stream.on('error', reject).on('end', () => resolve());
            file.stream.pipe(res);
          });
          return undefined;
        } catch (err) {
          if (err instanceof ExportUnavailableError) {
            const status = err.reason === 'not_found' ? 404 : err.reason === 'not_ready' ? 409 : 410;
            throw new ApiError(status, err.reason, err.message);
          }
          throw err;
        }
      },
    }),
  ];
}
