import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { TelegramError } from 'telegraf';
import { REDACTED, redactString } from '../logger';
import { UnreadableAnswerError } from './transport';

export { TelegramError };

/**
 * Telegram asked this bot to wait (429), or our own pacing says the next send must wait: the caller hands
 * the job back delayed until `retryAt` instead of spending an attempt.
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(
    readonly retryAt: number,
    reason: string,
  ) {
    super(`rate limited (${reason}) for ${Math.max(0, retryAt - Date.now())} ms`);
  }
}

/** The bot's circuit breaker is open: Telegram keeps failing for this bot, so its jobs wait. */
export class BotUnavailableError extends Error {
  override name = 'BotUnavailableError';
  constructor(readonly retryAt: number) {
    super('Telegram is failing for this bot; circuit breaker open');
  }
}

/** Errors worth retrying: timeouts, network failures, 5xx, and answers that were not Telegram's JSON. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TaskCancelledError || err instanceof UnreadableAnswerError) return true;
  if (err instanceof TelegramError) return err.code >= 500;
  const e = err as { name?: string; code?: unknown };
  // undici's own (UND_ERR_SOCKET, UND_ERR_CONNECT_TIMEOUT…) and the system's (ECONNRESET, EAI_AGAIN…), not Node's
  // ERR_* (an invalid URL is a setting to fix, not a blip).
  return e?.name === 'AbortError' || (typeof e?.code === 'string' && /^(UND_ERR_|E(?!RR_)[A-Z_]+$)/.test(e.code));
}

export const isTelegramError = (err: unknown, code?: number): err is TelegramError =>
  err instanceof TelegramError && (code === undefined || err.code === code);

export const isBrokenCircuit = (err: unknown): err is BrokenCircuitError => err instanceof BrokenCircuitError;

/**
 * A Bot API URL carries the token as its first path segment (`/bot<token>/getMe`), and HTTP clients put the URL
 * into their messages (node-fetch's "invalid json response body at …", "Invalid response body while trying to fetch …").
 * The segment goes whatever it holds, so a token cut short by a truncated message goes too.
 */
const URL_TOKEN_SEGMENT = /\/(bot|user)[^/\s?#'"]+/g;

/** A string with every bot token removed: the known one exactly, any token-shaped text, and any `/bot…/` URL segment. */
export function redactTokens(text: string, token?: string): string {
  let clean = token ? text.split(token).join(REDACTED) : text;
  clean = clean.replace(URL_TOKEN_SEGMENT, `/$1${REDACTED}`);
  return redactString(clean);
}

/**
 * Cleans an error that comes out of the Telegram client, in place (so its class, code and `type` still classify
 * it): message, stack, cause (recursively) and every other string property lose the bot token. Every error
 * that leaves the client passes through here before anyone can throw, store or show it.
 */
export function cleanError<T>(err: T, token?: string, seen = new WeakSet<object>()): T {
  if (!err || typeof err !== 'object' || seen.has(err)) return err;
  seen.add(err);
  const target = err as Record<string, unknown> & { stack?: unknown; message?: unknown; cause?: unknown };
  // Nested errors (cause, AggregateError's errors) are cleaned too; other objects (a TelegramError's request
  // payload) are the caller's and stay as they are.
  const clean = (value: unknown): unknown => {
    if (typeof value === 'string') return redactTokens(value, token);
    if (value instanceof Error) return cleanError(value, token, seen);
    if (Array.isArray(value)) value.forEach((v) => v instanceof Error && cleanError(v, token, seen));
    return value;
  };
  // message and stack are own properties of an Error but not enumerable; the stack was formatted (lazily)
  // with the original message, so both are rewritten.
  for (const key of new Set(['message', 'stack', 'cause', ...Object.keys(target)])) {
    const descriptor = Object.getOwnPropertyDescriptor(target, key);
    if (!descriptor || !('value' in descriptor) || !descriptor.writable) continue;
    const value = clean(descriptor.value);
    if (value !== descriptor.value) target[key] = value;
  }
  return err;
}

/** A short, token-free description for logs, bot status and the api_call_log. */
export function describeError(err: unknown): string {
  if (err instanceof TelegramError) return redactTokens(`${err.code}: ${err.description}`);
  if (err instanceof TaskCancelledError) return 'timeout';
  return redactTokens(err instanceof Error ? `${err.name}: ${err.message}` : String(err));
}
