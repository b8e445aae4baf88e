import type { AppContext } from '../core/context';
import { redactTokens } from '../core/telegram/errors';

/**
 * One-off clean-up of bot tokens stored before the Telegram client cleaned its errors at the source. node-fetch
 * put the request URL (`…/bot<token>/getChatMember`) into its error messages, and those were kept:
 * - in PostgreSQL: a bot's `last_error` and `status_reason`, an export's `error`, audit values;
 * - in Redis: BullMQ job hashes (`failedReason`, `stacktrace`, kept up to 7 days) and queue event streams.
 * Runs once per deployment when a maintenance process starts (a marker key in Redis records it; were Redis
 * emptied, it would simply run again and find nothing). Job hashes are rewritten; stream entries, which cannot
 * be edited, are deleted.
 */
export const REDACTION_MARKER = 'oneoff:redact-stored-tokens';

/** Text that may hold a token: a Bot API URL segment or a token-shaped string. */
const MAY_HOLD_TOKEN = /\/(bot|user)[^/\s?#'"]|\d{5,15}:[A-Za-z0-9_-]{30,}/;
/** The same two patterns for PostgreSQL (POSIX regular expressions). */
const PG_URL_SEGMENT = `/(bot|user)[^/[:space:]?#'"]+`;
const PG_TOKEN = '[0-9]{5,15}:[A-Za-z0-9_-]{30,}';

export interface RedactionResult {
  rows: number;
  jobHashes: number;
  streamEntries: number;
  keysScanned: number;
}

/** SQL for a column with both patterns ($1 the URL segment, $2 a token) replaced. */
const redactSql = (column: string) =>
  `regexp_replace(regexp_replace(${column}, $1, '/\\1[redacted]', 'g'), $2, '[redacted]', 'g')`;
const mayHold = (column: string) => `(${column} ~ $1 OR ${column} ~ $2)`;

async function redactDatabase(ctx: Pick<AppContext, 'db'>, signal?: AbortSignal): Promise<number> {
  const statements = [
    `UPDATE bot_instances SET last_error = ${redactSql('last_error')}, status_reason = ${redactSql('status_reason')}
     WHERE ${mayHold('last_error')} OR ${mayHold('status_reason')}`,
    `UPDATE exports SET error = ${redactSql('error')} WHERE ${mayHold('error')}`,
    `UPDATE admin_audit_log SET old_values = ${redactSql('old_values::text')}::jsonb, new_values = ${redactSql('new_values::text')}::jsonb
     WHERE ${mayHold('old_values::text')} OR ${mayHold('new_values::text')}`,
  ];
  let rows = 0;
  for (const statement of statements) {
    signal?.throwIfAborted();
    rows += await ctx.db.$executeRawUnsafe(statement, PG_URL_SEGMENT, PG_TOKEN);
  }
  return rows;
}

async function redactRedis(
  ctx: Pick<AppContext, 'redis' | 'keys'>,
  signal?: AbortSignal,
): Promise<Omit<RedactionResult, 'rows'>> {
  const { redis } = ctx;
  let jobHashes = 0;
  let streamEntries = 0;
  let keysScanned = 0;
  for (const type of ['hash', 'stream'] as const) {
    let cursor = '0';
    do {
      // SCAN walks the whole keyspace (every prefix): a shutdown stops it between pages.
      signal?.throwIfAborted();
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${ctx.keys.prefix}:*`, 'COUNT', 1000, 'TYPE', type);
      cursor = next;
      keysScanned += keys.length;
      if (type === 'hash') {
        const fields = await Promise.all(keys.map((key) => redis.hmget(key, 'failedReason', 'stacktrace')));
        for (const [i, [failedReason, stacktrace]] of fields.entries()) {
          const dirty = [failedReason, stacktrace].some((v) => v && MAY_HOLD_TOKEN.test(v));
          if (!dirty) continue;
          const clean: Record<string, string> = {};
          if (failedReason) clean.failedReason = redactTokens(failedReason);
          if (stacktrace) clean.stacktrace = redactTokens(stacktrace);
          await redis.hset(keys[i]!, clean);
          jobHashes++;
        }
      } else {
        for (const key of keys) {
          let start = '-';
          for (;;) {
            const entries = await redis.xrange(key, start, '+', 'COUNT', 1000);
            const dirty = entries.filter(([, values]) => values.some((v) => MAY_HOLD_TOKEN.test(v))).map(([id]) => id);
            if (dirty.length) streamEntries += await redis.xdel(key, ...dirty);
            if (entries.length < 1000) break;
            start = `(${entries.at(-1)![0]}`;
          }
        }
      }
    } while (cursor !== '0');
  }
  return { jobHashes, streamEntries, keysScanned };
}

/**
 * Cleans what is stored, unless this deployment did it already. Null when it had. `signal` stops it between
 * steps (rejecting with its reason); it is then not marked done and runs again at the next start.
 */
export async function redactStoredTokens(
  ctx: Pick<AppContext, 'db' | 'redis' | 'keys'>,
  options: { force?: boolean; signal?: AbortSignal } = {},
): Promise<RedactionResult | null> {
  const marker = ctx.keys.key(REDACTION_MARKER);
  if (!options.force && (await ctx.redis.exists(marker))) return null;
  const rows = await redactDatabase(ctx, options.signal);
  const redis = await redactRedis(ctx, options.signal);
  await ctx.redis.set(marker, new Date().toISOString());
  return { rows, ...redis };
}
