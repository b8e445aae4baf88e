// Reading Bot API parameters that may arrive typed (JSON body) or as strings (query string, form body).
import { BotApiError, Errors } from './errors';

export type Params = Record<string, unknown>;

export function optionalInt(params: Params, name: string): number | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isFinite(n)) throw Errors.badRequest(`invalid ${name} specified`);
  return Math.trunc(n);
}

export function requiredInt(params: Params, name: string, error: () => BotApiError): number {
  const n = optionalInt(params, name);
  if (n === undefined) throw error();
  return n;
}

export function optionalBool(params: Params, name: string): boolean | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  return value === true || value === 'true' || value === 1 || value === '1';
}

export function optionalString(params: Params, name: string): string | undefined {
  const value = params[name];
  if (value === undefined || value === null) return undefined;
  return typeof value === 'string' ? value : String(value);
}

/** Objects/arrays that form and query encodings send as JSON strings (reply_markup, permissions, allowed_updates). */
export function optionalJson<T>(params: Params, name: string): T | undefined {
  const value = params[name];
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') return value as T;
  try {
    return JSON.parse(value) as T;
  } catch {
    throw Errors.badRequest(`can't parse ${name} JSON object`);
  }
}

/** chat_id: integer or "@username". */
export function chatIdParam(params: Params): number | string {
  const value = params.chat_id;
  if (value === undefined || value === null || value === '') throw Errors.badRequest('chat_id is empty');
  if (typeof value === 'number') return value;
  const text = String(value);
  if (text.startsWith('@')) return text;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw Errors.chatNotFound();
  return n;
}
