import { circuitBreaker, CircuitState, ConsecutiveBreaker, handleWhen, wrap } from 'cockatiel';
import type { Redis } from 'ioredis';
import type { Opts, Telegram as Methods } from 'telegraf/types';
import type { Logger } from '../logger';
import type { Metrics } from '../metrics';
import type { Keyspace } from '../redis';
import {
  BotUnavailableError,
  cleanError,
  describeError,
  isBrokenCircuit,
  isTelegramError,
  isTransient,
  RateLimitedError,
} from './errors';
import { inSpan, SpanKind } from '../tracing';
import { BREAKER_STATE_TTL_S, breakerKey } from './breaker-state';
import type { Cooldowns } from './cooldowns';
import { clearance, refund, SEND_RATES, type Bucket, type SendRates } from './pacing';
import { callTimeout, transientRetry } from './policies';
import { callBotApi } from './transport';

export interface ApiCallRecord {
  botInstanceId: number;
  method: string;
  chatId: bigint | null;
  success: boolean;
  errorCode: number | null;
  latencyMs: number;
  createdAt: Date;
}

export interface BotApiOptions {
  botInstanceId: number;
  token: string;
  apiRoot: string;
  redis: Redis;
  keys: Keyspace;
  /** Every bot's 429 cooldown, in Redis. */
  cooldowns: Cooldowns;
  /** Send pacing; Telegram's limits unless a test shortens the group window. */
  sendRates?: SendRates;
  metrics: Metrics;
  log: Logger;
  /** Receives one record per Telegram call, for the batched api_call_log. */
  onCall?: (record: ApiCallRecord) => void;
  timeoutMs?: number;
  breakerOpenMs?: number;
}

/** A 429 shorter than this is waited out in process; longer ones hand the job back delayed. */
const MAX_INLINE_WAIT_MS = 1_500;
const SEND_METHODS = new Set(['sendMessage', 'editMessageText', 'copyMessage', 'forwardMessage']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One bot's door to Telegram. Every call goes through timeout (10 s) → retry (network errors and 5xx,
 * 3 attempts, exponential backoff with jitter) → a circuit breaker of this bot's own (5 consecutive
 * failures open it for 30 s), with 429s honoured exactly: after a `retry_after`, no call of this bot leaves
 * any process before it has run out. Sends are paced below Telegram's limits with buckets in Redis.
 */
export class BotApi {
  readonly botInstanceId: number;
  private readonly breaker;
  private readonly policy;
  private readonly bot: string;
  /** How long an open breaker refuses calls before it lets one through to test Telegram again. */
  readonly breakerOpenMs: number;

  constructor(private readonly options: BotApiOptions) {
    this.botInstanceId = options.botInstanceId;
    this.bot = String(options.botInstanceId);
    this.breakerOpenMs = options.breakerOpenMs ?? 30_000;

    const transient = handleWhen(isTransient);
    this.breaker = circuitBreaker(transient, {
      halfOpenAfter: this.breakerOpenMs,
      breaker: new ConsecutiveBreaker(5),
    });
    this.breaker.onStateChange((state) => {
      options.metrics.breakerState.set({ bot: this.bot }, state === CircuitState.Closed ? 0 : 1);
      // Shared so health checks in any process can see it; expires on its own if this process dies.
      void options.redis
        .set(breakerKey(options.keys, this.botInstanceId), this.breakerState, 'EX', BREAKER_STATE_TTL_S)
        .catch(() => {});
      options.log.warn('circuit breaker state changed', { botId: this.botInstanceId, state: CircuitState[state] });
    });
    options.metrics.breakerState.set({ bot: this.bot }, 0);
    this.policy = wrap(transientRetry(), this.breaker, callTimeout(options.timeoutMs));
  }

  /** The send rates this bot keeps to (Telegram's, or a test's shorter group window). */
  get sendRates(): SendRates {
    return this.options.sendRates ?? SEND_RATES;
  }

  get breakerState(): 'closed' | 'open' | 'half-open' | 'isolated' {
    return (
      {
        [CircuitState.Closed]: 'closed',
        [CircuitState.Open]: 'open',
        [CircuitState.HalfOpen]: 'half-open',
        [CircuitState.Isolated]: 'isolated',
      } as const
    )[this.breaker.state];
  }

  /** Tells `listener` whenever the breaker opens, half-opens, closes or is isolated. */
  onBreakerChange(listener: (state: BotApi['breakerState']) => void): { dispose(): void } {
    return this.breaker.onStateChange(() => listener(this.breakerState));
  }

  /**
   * Calls a Bot API method through the bot's policies. `beforeRequest` runs right before each request
   * leaves (after any pacing or cooldown wait), for callers that note a non-idempotent call's progress.
   */
  call<M extends keyof Methods>(
    method: M,
    payload: Opts<M>,
    hooks: { beforeRequest?: () => Promise<unknown> } = {},
  ): Promise<ReturnType<Methods[M]>> {
    return inSpan(`telegram ${method}`, SpanKind.CLIENT, (span) => {
      span.setAttributes({ 'nezuko.bot': this.botInstanceId, 'telegram.method': method });
      return this.callWithPolicies(method, payload, hooks.beforeRequest);
    });
  }

  private async callWithPolicies<M extends keyof Methods>(
    method: M,
    payload: Opts<M>,
    beforeRequest?: () => Promise<unknown>,
  ): Promise<ReturnType<Methods[M]>> {
    const chatId = (payload as { chat_id?: number | string }).chat_id;
    // An ephemeral message reaches one user: paced like a message to that user (1 a second), not from the
    // group's 20 a minute. Telegram documents no limit of its own for them (Bot API 10.2-10.4); sim/ephemeral.ts
    // counts them the same way. A 429 on one is waited out like any other.
    const receiver = (payload as { ephemeral_message_parameters?: { receiver_user_id?: number } })
      .ephemeral_message_parameters?.receiver_user_id;
    const paceChat = typeof chatId === 'number' && receiver !== undefined ? `${chatId}:${receiver}` : chatId;
    for (let inlineWaits = 0; ; inlineWaits++) {
      try {
        return await this.attempt(method, payload, chatId, paceChat, beforeRequest);
      } catch (err) {
        if (!isTelegramError(err, 429)) throw err;
        const retryAfterMs = (err.parameters?.retry_after ?? 1) * 1000;
        await this.startCooldown(retryAfterMs);
        if (retryAfterMs > MAX_INLINE_WAIT_MS || inlineWaits >= 2)
          throw new RateLimitedError(Date.now() + retryAfterMs, `429 on ${method}`);
      }
    }
  }

  /** getUpdates bypasses the 10 s timeout and the breaker: it long-polls, and its caller owns the retry loop. */
  getUpdates(payload: Opts<'getUpdates'>, signal: AbortSignal): Promise<ReturnType<Methods['getUpdates']>> {
    return callBotApi(this.options.apiRoot, this.options.token, 'getUpdates', payload, signal).catch((err: unknown) => {
      throw cleanError(err, this.options.token);
    });
  }

  private async attempt<M extends keyof Methods>(
    method: M,
    payload: Opts<M>,
    chatId: number | string | undefined,
    paceChat: number | string | undefined,
    beforeRequest?: () => Promise<unknown>,
  ) {
    try {
      // A signal per call: cockatiel would otherwise hang every concurrent call's listener on one shared signal.
      return await this.policy.execute(async ({ signal }) => {
        // Read from Redis right before the request leaves: a 429 any process recorded stops this call.
        await this.clearToCall(method, paceChat, beforeRequest);
        const started = performance.now();
        let errorCode: number | null = null;
        try {
          return await callBotApi(this.options.apiRoot, this.options.token, method, payload, signal);
        } catch (err) {
          errorCode = isTelegramError(err) ? err.code : 0;
          // Cleaned before anything else sees it: retries, the breaker, job failures, logs, bot status.
          throw cleanError(err, this.options.token);
        } finally {
          this.record(method, chatId, errorCode, performance.now() - started);
        }
      }, new AbortController().signal);
    } catch (err) {
      if (isBrokenCircuit(err)) throw new BotUnavailableError(Date.now() + this.breakerOpenMs / 2);
      if (!(err instanceof RateLimitedError) && !isTelegramError(err, 429)) {
        this.options.log.debug('telegram call failed', {
          botId: this.botInstanceId,
          method,
          error: describeError(err),
        });
      }
      throw err;
    }
  }

  private record(method: string, chatId: number | string | undefined, errorCode: number | null, ms: number) {
    const { metrics } = this.options;
    const outcome = errorCode === null ? 'ok' : errorCode === 0 ? 'network' : String(errorCode);
    metrics.telegramCalls.inc({ bot: this.bot, method, outcome });
    metrics.telegramCallDuration.observe({ bot: this.bot, method }, ms / 1000);
    this.options.onCall?.({
      botInstanceId: this.botInstanceId,
      method,
      chatId: typeof chatId === 'number' ? BigInt(chatId) : null,
      success: errorCode === null,
      errorCode: errorCode === null ? null : errorCode,
      latencyMs: Math.round(ms),
      createdAt: new Date(),
    });
  }

  private async startCooldown(ms: number) {
    const { metrics } = this.options;
    metrics.telegramRateLimited.inc({ bot: this.bot });
    metrics.telegramRetryAfterSeconds.inc({ bot: this.bot }, ms / 1000);
    await this.options.cooldowns.start(this.botInstanceId, ms);
  }

  /**
   * Waits out a short cooldown or pacing wait and returns once this call may leave (a send has then taken
   * its slots); a longer wait throws RateLimitedError, so the job is handed back delayed. A `beforeRequest`
   * hook runs after that; a cooldown that began during its round trip still stops the request, and the
   * slots it took are given back (in a 429 storm that happens often enough to starve a group's minute).
   */
  private async clearToCall(
    method: string,
    chatId: number | string | undefined,
    beforeRequest?: () => Promise<unknown>,
  ) {
    const { redis, keys, cooldowns } = this.options;
    const rates = this.options.sendRates ?? SEND_RATES;
    const buckets: Bucket[] = [];
    if (SEND_METHODS.has(method)) {
      buckets.push({ key: keys.bot(this.botInstanceId, 'pace'), rate: rates.perBot });
      if (typeof chatId === 'number')
        buckets.push({
          key: keys.bot(this.botInstanceId, 'pace', chatId),
          rate: chatId < 0 ? rates.perGroup : rates.perPrivateChat,
        });
      // One user in a group (an ephemeral message): that user's own bucket.
      else if (typeof chatId === 'string' && chatId.includes(':'))
        buckets.push({ key: keys.bot(this.botInstanceId, 'pace', chatId), rate: rates.perPrivateChat });
    }
    let slot: string | undefined;
    for (;;) {
      const cleared = buckets.length
        ? await clearance(redis, cooldowns.key(this.botInstanceId), buckets)
        : { waitMs: await cooldowns.remaining(this.botInstanceId), reason: 'cooldown' as const, slot: undefined };
      if (cleared.waitMs <= 0) {
        slot = cleared.slot;
        break;
      }
      if (cleared.waitMs > MAX_INLINE_WAIT_MS)
        throw new RateLimitedError(Date.now() + cleared.waitMs, cleared.reason === 'pace' ? 'send pacing' : 'cooldown');
      await sleep(cleared.waitMs);
    }
    if (!beforeRequest) return;
    await beforeRequest();
    const waitMs = await cooldowns.remaining(this.botInstanceId);
    if (waitMs <= 0) return;
    if (slot) await refund(redis, buckets, slot);
    throw new RateLimitedError(Date.now() + waitMs, 'cooldown');
  }
}
