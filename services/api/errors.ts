import { z } from 'zod';

/** A failure with a status, a stable machine-readable code and a message safe to show. */
export class ApiError extends Error {
  override name = 'ApiError';
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

export const notFound = (what: string) => new ApiError(404, 'not_found', `${what} not found`);
export const badRequest = (message: string, details?: unknown) => new ApiError(400, 'bad_request', message, details);
export const conflict = (message: string) => new ApiError(409, 'conflict', message);

/** The body of every failure (errorBody below), as the OpenAPI document describes it. */
export const errorResponse = z.object({
  error: z.object({
    code: z.string().describe('Stable and machine-readable, e.g. validation_failed, not_found, rate_limited'),
    message: z.string(),
    details: z.unknown().optional().describe('e.g. the invalid fields: [{ path, message }]'),
    requestId: z.string(),
  }),
});

/** One error shape for every failure; never a stack trace. */
export function errorBody(code: string, message: string, requestId: string, details?: unknown) {
  return { error: { code, message, ...(details === undefined ? {} : { details }), requestId } };
}
