import type { Request } from 'express';
import type { AppContext } from '../core/context';
import type { Prisma } from '../core/db';
import type { Principal } from './routing';

/** Fields never written to the audit log, whatever the resource. */
const SECRET_FIELDS = /^(password|passwordHash|token|tokenHash|tokenEncrypted|secret|csrfToken)$/i;

/** A JSON-safe copy without secrets (bigints as strings, dates as ISO strings). */
export function auditValues(value: unknown): Prisma.InputJsonValue | undefined {
  if (value === undefined || value === null) return undefined;
  const clean = (v: unknown): unknown => {
    if (typeof v === 'bigint') return v.toString();
    if (v instanceof Date) return v.toISOString();
    if (Array.isArray(v)) return v.map(clean);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => !SECRET_FIELDS.test(k))
          .map(([k, x]) => [k, clean(x)]),
      );
    }
    return v;
  };
  return clean(value) as Prisma.InputJsonValue;
}

export interface AuditEntry {
  action: string;
  resourceType: string;
  resourceId?: string | number | bigint | null;
  oldValues?: unknown;
  newValues?: unknown;
}

/** Writes one admin_audit_log row for a change made by `auth` (or by nobody yet, for login failures). */
export async function audit(ctx: AppContext, req: Request, auth: Principal | null, entry: AuditEntry): Promise<void> {
  await ctx.db.adminAuditLog.create({
    data: {
      actorId: auth?.userId ?? null,
      actorTokenId: auth?.tokenId ?? null,
      actorEmail: auth?.email ?? null,
      action: entry.action,
      resourceType: entry.resourceType,
      resourceId: entry.resourceId === undefined || entry.resourceId === null ? null : String(entry.resourceId),
      oldValues: auditValues(entry.oldValues),
      newValues: auditValues(entry.newValues),
      ip: req.ip ?? null,
      userAgent: req.get('user-agent')?.slice(0, 512) ?? null,
    },
  });
}

/** Only the fields whose values differ, as {old, new} objects. */
export function changed<T extends Record<string, unknown>>(before: T, patch: Partial<T>) {
  const oldValues: Record<string, unknown> = {};
  const newValues: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) continue;
    if (JSON.stringify(auditValues({ v })) !== JSON.stringify(auditValues({ v: before[k] }))) {
      oldValues[k] = before[k];
      newValues[k] = v;
    }
  }
  return { oldValues, newValues };
}
