import { isIP } from 'node:net';
import dotenv from 'dotenv';
import { z } from 'zod';

dotenv.config({ quiet: true });

/** Every role a process can run; `ROLES` picks a subset. */
export const ALL_ROLES = ['poller', 'verifier', 'maintenance', 'api'] as const;
export type Role = (typeof ALL_ROLES)[number];

const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'expected true or false' })
  .transform((v) => v === 'true' || v === '1' || v === 'yes');

const port = z.coerce.number({ message: 'expected a port number' }).int().min(0).max(65535);
const positiveInt = z.coerce.number({ message: 'expected a whole number' }).int().positive();
const nonNegativeInt = z.coerce.number({ message: 'expected a whole number' }).int().nonnegative();

const csv = <T extends string = string>(allowed?: readonly T[]) =>
  z.string().transform((value, ctx) => {
    const items = value
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (allowed) {
      const unknown = items.filter((i) => !(allowed as readonly string[]).includes(i));
      if (unknown.length)
        ctx.addIssue({
          code: 'custom',
          message: `unknown ${unknown.join(', ')}; expected some of ${allowed.join(', ')}`,
        });
    }
    return items as T[];
  });

/** A 32-byte key given as 64 hex characters or as base64. */
const encryptionKey = z.string().transform((value, ctx) => {
  const key = /^[0-9a-fA-F]{64}$/.test(value) ? Buffer.from(value, 'hex') : Buffer.from(value, 'base64');
  if (key.length !== 32) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected 32 bytes as 64 hex characters or base64 (openssl rand -hex 32)',
    });
    return z.NEVER;
  }
  return key;
});

/** Export kinds (mirrored by the exports_kind_check constraint). */
export const EXPORT_KINDS = ['verifications', 'audit', 'api_calls', 'groups'] as const;
export type ExportKind = (typeof EXPORT_KINDS)[number];

/** A five-field cron pattern (minute hour day-of-month month day-of-week), evaluated in UTC. */
const cron = z
  .string()
  .trim()
  .regex(/^\S+(\s+\S+){4}$/, 'expected a cron pattern with 5 fields, e.g. 0 2 * * *');

const botToken = z
  .string()
  .regex(/^\d{5,15}:[A-Za-z0-9_-]{30,}$/, 'expected a bot token like 123456:ABC… from @BotFather');

/** `k/n`: this verifier process takes the bots whose id hashes to k modulo n. */
const shard = z.string().transform((value, ctx) => {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(m?.[1]);
  const count = Number(m?.[2]);
  if (!m || count < 1 || index >= count) {
    ctx.addIssue({ code: 'custom', message: 'expected k/n with 0 <= k < n, e.g. 0/2' });
    return z.NEVER;
  }
  return { index, count };
});

/**
 * Which hops in front of the API may say who the client is (X-Forwarded-For, X-Forwarded-Proto): Express's
 * `trust proxy`. `false` trusts none, `true` every one, a number that many hops; otherwise addresses, subnets
 * (CIDR) or the names loopback, linklocal and uniquelocal (10/8, 172.16/12, 192.168/16, fc00::/7), comma-separated.
 */
const trustProxy = z.string().transform((value, ctx): boolean | number | string[] => {
  const v = value.trim().toLowerCase();
  if (v === 'true' || v === 'false') return v === 'true';
  if (/^\d+$/.test(v)) return Number(v);
  const items = v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = items.filter((item) => {
    if (['loopback', 'linklocal', 'uniquelocal'].includes(item)) return false;
    const [address, bits, extra] = item.split('/');
    const family = isIP(address ?? '');
    if (!family || extra !== undefined) return true;
    return bits !== undefined && !(/^\d+$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128));
  });
  if (!items.length || bad.length) {
    ctx.addIssue({
      code: 'custom',
      message: `${bad.join(', ') || 'nothing'}: expected true, false, a hop count, or addresses, subnets and loopback/linklocal/uniquelocal`,
    });
    return z.NEVER;
  }
  return items;
});

const url = (protocols: string[]) =>
  z.string().refine(
    (v) => {
      try {
        return protocols.includes(new URL(v).protocol);
      } catch {
        return false;
      }
    },
    `expected a ${protocols.join(' or ')}// URL`,
  );

/**
 * Where Telegram users reach the API's verification Web App (guard-bot join requests): Telegram opens Web Apps
 * over HTTPS only; plain http is accepted for loopback hosts, as the simulator and Telegram's test environment allow.
 */
const webAppBaseUrl = z.string().transform((value, ctx) => {
  let parsed: URL | undefined;
  try {
    parsed = new URL(value);
  } catch {
    /* reported below */
  }
  const loopback = parsed && ['localhost', '127.0.0.1', '[::1]'].includes(parsed.hostname);
  if (!parsed || !(parsed.protocol === 'https:' || (parsed.protocol === 'http:' && loopback)) || parsed.search) {
    ctx.addIssue({
      code: 'custom',
      message: 'expected the public https:// URL of the API, without a query (http:// only for localhost)',
    });
    return z.NEVER;
  }
  return parsed.href.replace(/\/+$/, '');
});

const schema = z.object({
  NODE_ENV: z.enum(['development', 'production', 'test']).default('development'),
  ROLES: csv(ALL_ROLES).prefault(ALL_ROLES.join(',')),
  DATABASE_URL: url(['postgresql:', 'postgres:']).default('postgresql://postgres:postgres@127.0.0.1:5432/nezuko'),
  REDIS_URL: url(['redis:', 'rediss:']).default('redis://127.0.0.1:6379'),
  REDIS_PREFIX: z
    .string()
    .regex(/^[a-z0-9_-]+$/i, 'expected letters, digits, _ or -')
    .default('nezuko'),
  TELEGRAM_API_ROOT: url(['http:', 'https:']).default('https://api.telegram.org'),
  BOT_TOKEN: botToken.optional(),
  TOKEN_ENCRYPTION_KEY: encryptionKey.optional(),
  API_HOST: z.string().min(1).default('127.0.0.1'),
  API_PORT: port.default(3000),
  METRICS_PORT: port.default(9464),
  CORS_ORIGINS: csv().prefault(''),
  /** Reverse proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (client address for login limits, https for Secure cookies). */
  TRUST_PROXY: trustProxy.prefault('loopback'),
  /** Public base URL of the API for the guard-bot verification Web App; unset = guard bots message requesters instead. */
  WEB_APP_BASE_URL: webAppBaseUrl.optional(),
  /** initData older than this (its auth_date) is refused by the Web App. */
  WEB_APP_AUTH_MAX_AGE_SECONDS: positiveInt.max(86_400).default(3600),
  ADMIN_EMAIL: z.email({ message: 'expected an email address' }).optional(),
  ADMIN_PASSWORD: z.string().min(12, 'expected at least 12 characters').optional(),
  /** With no owner yet, the API prints a one-time set-up code on the console; it works this long. */
  SETUP_CODE_TTL_MINUTES: positiveInt.max(24 * 60).default(30),
  LOG_LEVEL: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** Console lines: auto = readable at a terminal, JSON otherwise; files are always JSON. */
  LOG_FORMAT: z.enum(['auto', 'json', 'pretty']).default('auto'),
  LOG_DIR: z.string().min(1).default('storage/logs'),
  LOG_MAX_SIZE: z
    .string()
    .regex(/^\d+[kmg]?$/, 'expected a size such as 50m')
    .default('50m'),
  LOG_MAX_FILES: positiveInt.default(10),
  LOG_TO_FILE: bool.default(true),
  LOG_PER_BOT: bool.default(false),
  EXPORT_DIR: z.string().min(1).default('storage/exports'),
  VERIFIER_CONCURRENCY: positiveInt.max(1000).default(50),
  VERIFIER_SHARD: shard.prefault('0/1'),
  SHUTDOWN_TIMEOUT_MS: positiveInt.default(15_000),
  SLOW_REQUEST_MS: positiveInt.default(1000),
  /**
   * Counts each API request's database queries and warns above MAX_QUERIES_PER_REQUEST (an N+1 pattern). It
   * needs AsyncLocalStorage, whose hooks cost every request 10–20 % more CPU (measured on the dashboard): for
   * development and staging.
   */
  COUNT_REQUEST_QUERIES: bool.default(false),
  SESSION_TTL_HOURS: positiveInt.max(24 * 90).default(12),
  SESSIONS_PER_USER: positiveInt.max(1000).default(10),
  LOGIN_RATE_WINDOW_MS: positiveInt.default(15 * 60_000),
  LOGIN_RATE_LIMIT_PER_IP: positiveInt.default(30),
  LOGIN_RATE_LIMIT_PER_ACCOUNT: positiveInt.default(5),
  /** Requests per API_RATE_WINDOW_MS per session or API token on /api/v1 and Bull Board (0 = no limit). */
  API_RATE_LIMIT: nonNegativeInt.default(3_000),
  /** The same for requests without a valid credential, per client address. */
  API_RATE_LIMIT_ANONYMOUS: positiveInt.default(600),
  /** Whole seconds (rate-limiter-flexible counts in seconds). */
  API_RATE_WINDOW_MS: positiveInt
    .min(1_000)
    .multipleOf(1_000, 'expected whole seconds (a multiple of 1000)')
    .default(60_000),
  API_CACHE_TTL_SECONDS: positiveInt.max(86_400).default(300),
  AUTH_CACHE_TTL_MS: nonNegativeInt.max(60_000).default(2_000),
  STATS_ROLLUP_INTERVAL_MS: positiveInt.default(30_000),
  RETENTION_DAYS: positiveInt.default(90),
  EXPORT_RETENTION_DAYS: positiveInt.default(14),
  /** Rolled-up hourly statistics are kept this long (they are small; the raw logs go after RETENTION_DAYS). */
  STATS_RETENTION_DAYS: positiveInt.default(400),
  /** When retention runs (cron, UTC). */
  RETENTION_CRON: cron.default('30 3 * * *'),
  /** When the daily export runs (cron, UTC); it exports the previous UTC day. */
  EXPORT_SCHEDULE_CRON: cron.default('0 2 * * *'),
  /** Kinds the daily export writes; empty turns the daily export off. */
  EXPORT_SCHEDULE_KINDS: csv(EXPORT_KINDS).prefault('verifications'),
  /** How often member and subscriber counts are read from Telegram (getChatMemberCount per enabled group and its channels). */
  COUNTS_SYNC_INTERVAL_MS: positiveInt.min(60_000).default(900_000),
  /** getChatMemberCount calls per second per bot during a counts sync (kept well under Telegram's ~30/s). */
  COUNTS_SYNC_CALLS_PER_SECOND: positiveInt.max(30).default(5),
  /** Telegram allows 20 messages a minute per group; the minute is configurable only so tests can run a wave in seconds. */
  PACE_GROUP_WINDOW_MS: positiveInt.min(1_000).default(60_000),
  POLL_MAX_FAILURES: positiveInt.default(8),
  BOT_MAX_RESTARTS: nonNegativeInt.default(3),
  BOT_RESTART_WINDOW_MS: positiveInt.default(600_000),
  BOT_RESTART_BACKOFF_MS: positiveInt.default(1_000),
  OTEL_EXPORTER_OTLP_ENDPOINT: url(['http:', 'https:']).optional(),
  OTEL_SERVICE_NAME: z.string().min(1).default('nezuko'),
  DB_POOL_SIZE: positiveInt.max(200).default(10),
  READY_CHECK_TIMEOUT_MS: nonNegativeInt.default(2000),
});

export type Config = z.infer<typeof schema>;

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Parses the environment once. Empty strings count as unset, so `FOO=` in a .env file means "default".
 * Throws one ConfigError naming every offending variable and what it expects.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const input = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ''));
  const result = schema.safeParse(input);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
  throw new ConfigError(`Invalid configuration: ${problems.join('; ')}`);
}

let cached: Config | undefined;

/** The process-wide configuration, parsed on first use. */
export function config(): Config {
  cached ??= loadConfig();
  return cached;
}
