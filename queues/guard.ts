import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Keyspace } from '../services/core/redis';

/**
 * Guard-bot join requests (Bot API 10.1): the state of one user's request while they use the verification Web
 * App. The verifier writes it (when it sends the Web App, after each check, when it answers the query); the API
 * reads it for the page of the user the Web App's signed initData names, and only theirs.
 */

/** Where the API serves the verification Web App; the verifier sends `<WEB_APP_BASE_URL><path>?bot=…&chat=…`. */
export const GUARD_WEB_APP_PATH = '/webapp/join';

export const guardWebAppUrl = (baseUrl: string, botInstanceId: number, chatId: number) =>
  `${baseUrl}${GUARD_WEB_APP_PATH}?bot=${botInstanceId}&chat=${chatId}`;

/**
 * web_app: waiting for the user to join (the Web App is shown); approved / declined / queued: the bot answered
 * the query; closed: the request was decided elsewhere (an admin) or the query expired.
 */
export const GUARD_STATES = ['web_app', 'approved', 'declined', 'queued', 'closed'] as const;
export type GuardState = (typeof GUARD_STATES)[number];

export const guardRequestSchema = z.object({
  queryId: z.string().min(1).max(64),
  state: z.enum(GUARD_STATES),
  /** enforced_channels.id of the channels the user has not joined, as last checked. */
  missing: z.array(z.number().int().positive()).max(100),
  /** When the request was last checked (ms since epoch); the API waits for it to move after a "check". */
  checkedAt: z.number().int().nonnegative(),
  /** When an unanswered request times out (ms since epoch). */
  expiresAt: z.number().int().nonnegative(),
});
export type GuardRequest = z.infer<typeof guardRequestSchema>;

/** Longer than the longest wait (Telegram keeps a query answerable for about an hour after the Web App). */
const GUARD_STATE_TTL_S = 2 * 3600;

export const guardRequestKey = (keys: Keyspace, botInstanceId: number, chatId: number, userId: number) =>
  keys.bot(botInstanceId, 'guard', chatId, userId);

export async function readGuardRequest(
  redis: Redis,
  keys: Keyspace,
  botInstanceId: number,
  chatId: number,
  userId: number,
): Promise<GuardRequest | null> {
  const raw = await redis.get(guardRequestKey(keys, botInstanceId, chatId, userId));
  if (!raw) return null;
  const parsed = guardRequestSchema.safeParse(JSON.parse(raw));
  return parsed.success ? parsed.data : null;
}

export async function writeGuardRequest(
  redis: Redis,
  keys: Keyspace,
  botInstanceId: number,
  chatId: number,
  userId: number,
  request: GuardRequest,
): Promise<void> {
  await redis.set(
    guardRequestKey(keys, botInstanceId, chatId, userId),
    JSON.stringify(guardRequestSchema.parse(request)),
    'EX',
    GUARD_STATE_TTL_S,
  );
}
