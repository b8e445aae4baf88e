import { BrokenCircuitError, TaskCancelledError } from 'cockatiel';
import { TelegramError } from 'telegraf';

export { TelegramError };

/**
 * Telegram asked this bot to wait (429), or our own pacing says the next send must wait: the caller hands
 * the job back delayed until `retryAt` instead of spending an attempt.
 */
export class RateLimitedError extends Error {
  override name = 'RateLimitedError';
  constructor(readonly retryAt: number, reason: string) {
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

/** Errors worth retrying: timeouts, network failures, 5xx, and answers that were not valid JSON. */
export function isTransient(err: unknown): boolean {
  if (err instanceof TaskCancelledError) return true;
  if (err instanceof TelegramError) return err.code >= 500;
  const e = err as { name?: string; type?: string; code?: string };
  // node-fetch's FetchError: system (ECONNRESET, ECONNREFUSED…), invalid-json, body-timeout.
  return e?.name === 'FetchError' || e?.name === 'AbortError' || e?.type === 'system' || e?.type === 'invalid-json';
}

export const isTelegramError = (err: unknown, code?: number): err is TelegramError =>
  err instanceof TelegramError && (code === undefined || err.code === code);

export const isBrokenCircuit = (err: unknown): err is BrokenCircuitError => err instanceof BrokenCircuitError;

/** A short, token-free description for logs and the api_call_log. */
export function describeError(err: unknown): string {
  if (err instanceof TelegramError) return `${err.code}: ${err.description}`;
  if (err instanceof TaskCancelledError) return 'timeout';
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
