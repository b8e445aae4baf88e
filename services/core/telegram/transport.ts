import { Agent, request } from 'undici';
import { TelegramError } from 'telegraf';
import type { Opts, Telegram as Methods } from 'telegraf/types';

/**
 * The HTTP under every Bot API call: a JSON POST over keep-alive connections (undici), its answer read as Telegram's
 * `{ ok, result }` envelope. Telegraf's own client (node-fetch) costs about three times the CPU per call
 * (`npm run bench:telegram-client`: ~300 against ~110 µs warm, ~700 against ~340 cold), and a backlog makes
 * thousands of calls. Telegraf still gives the method types and TelegramError, so callers classify answers as before.
 */

/** Connections per origin (Telegram, or the simulator) shared by every bot's calls in this process. */
const calls = new Agent({ connections: 256, keepAliveTimeout: 10_000 });
/**
 * Long polls apart, one connection per polled bot however many: each holds its connection for up to the poll's
 * timeout, and under a shared cap a poller with more bots than connections would leave the rest unpolled and
 * every other call waiting behind them.
 */
const longPolls = new Agent({ keepAliveTimeout: 10_000 });

/** An answer that is not Telegram's JSON (a proxy's HTML page, a body cut short): worth another try. */
export class UnreadableAnswerError extends Error {
  override name = 'UnreadableAnswerError';
  constructor(
    readonly method: string,
    readonly status: number,
  ) {
    super(`${method}: unreadable answer (HTTP ${status})`);
  }
}

interface Envelope {
  ok: boolean;
  result?: unknown;
  error_code?: number;
  description?: string;
  parameters?: { retry_after?: number; migrate_to_chat_id?: number };
}

/**
 * Calls `method` with `payload`; resolves with its result, or throws Telegram's refusal as a TelegramError, an
 * unreadable answer as UnreadableAnswerError, and undici's own errors (refused, reset, aborted) as they are, their
 * message prefixed with the method.
 * The URL carries the token: callers clean what they throw (errors.ts `cleanError`).
 */
export async function callBotApi<M extends keyof Methods>(
  apiRoot: string,
  token: string,
  method: M,
  payload: Opts<M>,
  signal?: AbortSignal,
): Promise<ReturnType<Methods[M]>> {
  const dispatcher = method === 'getUpdates' ? longPolls : calls;
  let statusCode: number;
  let text: string;
  try {
    const response = await request(`${apiRoot}/bot${token}/${method}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload ?? {}),
      signal,
      dispatcher,
    });
    statusCode = response.statusCode;
    text = await response.body.text();
  } catch (err) {
    // undici's messages ("other side closed") do not say which call failed; its class and code stay for isTransient.
    if (err instanceof Error) err.message = `${method}: ${err.message}`;
    throw err;
  }
  let answer: Envelope;
  try {
    answer = JSON.parse(text) as Envelope;
  } catch {
    throw new UnreadableAnswerError(method, statusCode);
  }
  if (typeof answer !== 'object' || answer === null || typeof answer.ok !== 'boolean')
    throw new UnreadableAnswerError(method, statusCode);
  if (!answer.ok)
    throw new TelegramError(
      {
        error_code: answer.error_code ?? statusCode,
        description: answer.description ?? 'no description',
        parameters: answer.parameters,
      },
      { method, payload },
    );
  return answer.result as ReturnType<Methods[M]>;
}
