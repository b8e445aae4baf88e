import { z } from 'zod';
import { PASSWORD_MAX_LENGTH, PASSWORD_MIN_LENGTH, passwordProblem } from './password-policy';

/** Shared zod building blocks: they validate requests and describe them in the OpenAPI document. */

export const ROLES = ['viewer', 'admin', 'owner'] as const;
export type AdminRole = (typeof ROLES)[number];
export const roleRank: Record<AdminRole, number> = { viewer: 1, admin: 2, owner: 3 };

/** A database id in a path or query: digits only, 1 … 2^31-1. */
export const dbId = z
  .string()
  .regex(/^\d{1,10}$/, 'expected a positive whole number')
  .transform(Number)
  .pipe(z.number().int().min(1, 'expected a positive whole number').max(2_147_483_647, 'too large'));

export const idParams = z.object({ id: dbId });

/** A Telegram id (users positive, chats negative) given as a string of digits. */
export const telegramId = z
  .string()
  .regex(/^-?\d{1,19}$/, 'expected a Telegram id (whole number)')
  .transform((v) => BigInt(v))
  .refine((v) => v >= -(2n ** 63n) && v < 2n ** 63n, 'out of range');

export const boolString = z
  .enum(['true', 'false'], { message: 'expected true or false' })
  .transform((v) => v === 'true');

/** Years PostgreSQL's timestamptz takes as input and JavaScript keeps exact: 0001–9999 (there is no year 0000). */
export const inDatabaseRange = (v: string) => {
  const year = new Date(v).getUTCFullYear();
  return year >= 1 && year <= 9999;
};

export const isoDate = z.iso
  .datetime({ offset: true, message: 'expected an ISO 8601 date-time, e.g. 2026-01-31T12:00:00Z' })
  .refine(inDatabaseRange, 'the year must be 0001 to 9999')
  .transform((v) => new Date(v));

/** Page-number pagination: page 1–1000, per_page 1–100. */
export const pageQuery = {
  page: z.coerce
    .number({ message: 'expected a whole number' })
    .int('expected a whole number')
    .min(1, 'page is 1 to 1000')
    .max(1000, 'page is 1 to 1000')
    .default(1),
  per_page: z.coerce
    .number({ message: 'expected a whole number' })
    .int('expected a whole number')
    .min(1, 'per_page is 1 to 100')
    .max(100, 'per_page is 1 to 100')
    .default(20),
};

/** Keyset pagination for logs: rows older than `cursor` (an id), newest first. */
export const cursorQuery = {
  cursor: z
    .string()
    .regex(/^\d{1,19}$/, 'expected the next_cursor of a previous page')
    .optional(),
  limit: z.coerce
    .number({ message: 'expected a whole number' })
    .int()
    .min(1, 'limit is 1 to 100')
    .max(100, 'limit is 1 to 100')
    .default(50),
};

/** A search string: trimmed, 1–100 characters. */
export const searchText = z.string().trim().min(1, 'empty search').max(100, 'at most 100 characters');

/** A new password's length; `password` adds the rest of the policy (core/password-policy.ts). */
export const passwordLength = z
  .string()
  .min(PASSWORD_MIN_LENGTH, `at least ${PASSWORD_MIN_LENGTH} characters`)
  .max(PASSWORD_MAX_LENGTH, `at most ${PASSWORD_MAX_LENGTH} characters`);

/** A new password: long enough, and not common or easy to guess. */
export const password = passwordLength.check((ctx) => {
  if (ctx.issues.length) return;
  const problem = passwordProblem(ctx.value);
  if (problem) ctx.issues.push({ code: 'custom', message: problem, input: ctx.value });
});
export const email = z
  .string()
  .trim()
  .max(254)
  .pipe(z.email({ message: 'expected an email address' }))
  .transform((v) => v.toLowerCase());

export interface Page<T> {
  items: T[];
  page: number;
  perPage: number;
  total: number;
  totalPages: number;
}

export const pageOf = <T>(items: T[], total: number, page: number, perPage: number): Page<T> => ({
  items,
  page,
  perPage,
  total,
  totalPages: Math.ceil(total / perPage),
});
