import { ExponentialBackoff, handleWhen, retry, timeout, TimeoutStrategy, wrap } from 'cockatiel';
import type { UserFromGetMe } from 'telegraf/types';
import { cleanError, isTransient } from './errors';
import { callBotApi } from './transport';

/**
 * The retry every Bot API call goes through: network errors, timeouts, 5xx and unreadable answers are retried
 * twice with exponential backoff and jitter; a Telegram answer (4xx) is final.
 */
export const transientRetry = () =>
  retry(handleWhen(isTransient), {
    maxAttempts: 2,
    backoff: new ExponentialBackoff({ initialDelay: 200, maxDelay: 2_000 }),
  });

/**
 * Each attempt gives up after `ms` (10 s by default), cancelling its request. An attempt that returned has
 * nothing left to cancel (its answer was read whole), so its signal is not aborted then: aborting made a
 * DOMException, stack trace and all, for every call.
 */
export const callTimeout = (ms = 10_000) => timeout(ms, { strategy: TimeoutStrategy.Aggressive, abortOnReturn: false });

/**
 * getMe for a token that is not a running bot yet (registration, token replacement), through the same retry and
 * timeout as BotApi's calls (no breaker: there is no bot to isolate yet). Errors come out cleaned of the token.
 */
export function getMeWithPolicies(token: string, apiRoot: string, timeoutMs?: number): Promise<UserFromGetMe> {
  return wrap(transientRetry(), callTimeout(timeoutMs)).execute(({ signal }) =>
    callBotApi(apiRoot, token, 'getMe', {}, signal).catch((err: unknown) => {
      throw cleanError(err, token);
    }),
  );
}
