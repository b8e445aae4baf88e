import { z } from 'zod';
import { ROLES } from './schemas';

/**
 * What each route answers, as zod schemas: the OpenAPI document describes every response from these, and
 * test/api/openapi-responses.test.ts checks real answers against that document. Objects are closed (no field
 * that is not listed), so a field added to a row must be added here too, or the test fails.
 *
 * The shapes are the JSON on the wire: dates are ISO strings, Telegram ids and other int8 values are strings
 * of digits (see the JSON replacer in app.ts).
 */

export const isoDateTime = z.iso.datetime({ offset: true });
/** A Telegram id or another int8 value: JSON has no 64-bit integers, so they go out as strings. */
export const int64 = z.string().regex(/^-?\d+$/);
const id = z.number().int();
const nullableDate = isoDateTime.nullable();

export const pageOfItems = <T extends z.ZodType>(item: T) =>
  z.object({
    items: z.array(item),
    page: z.number().int(),
    perPage: z.number().int(),
    total: z.number().int(),
    totalPages: z.number().int(),
  });

export const keysetOf = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

// ── users, sessions, tokens ────────────────────────────────────────────────────────────────────────────────

export const adminUser = z.object({
  id,
  email: z.string(),
  role: z.enum(ROLES),
  displayName: z.string().nullable(),
  lastLoginAt: nullableDate,
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});

export const loginResponse = z.object({
  user: adminUser.pick({ id: true, email: true, role: true, displayName: true }),
  csrfToken: z.string(),
  expiresAt: isoDateTime,
});

export const meResponse = z.object({
  kind: z.enum(['session', 'token']),
  role: z.enum(ROLES),
  user: adminUser.pick({ id: true, email: true, role: true, displayName: true, lastLoginAt: true }).nullable(),
  tokenId: id.nullable(),
  csrfToken: z.string().nullable(),
});

export const sessionsResponse = z.object({
  items: z.array(
    z.object({
      id,
      ip: z.string().nullable(),
      userAgent: z.string().nullable(),
      createdAt: isoDateTime,
      lastSeenAt: nullableDate,
      expiresAt: isoDateTime,
      current: z.boolean(),
    }),
  ),
});

export const apiToken = z.object({
  id,
  name: z.string(),
  tokenPrefix: z.string(),
  role: z.enum(ROLES),
  createdById: id.nullable(),
  createdByTokenId: id.nullable(),
  lastUsedAt: nullableDate,
  expiresAt: nullableDate,
  revokedAt: nullableDate,
  createdAt: isoDateTime,
});

/** The token itself is in this answer only. */
export const createdApiToken = apiToken.extend({ token: z.string() });

// ── bots ───────────────────────────────────────────────────────────────────────────────────────────────────

export const bot = z.object({
  id,
  telegramBotId: int64,
  username: z.string(),
  name: z.string(),
  isActive: z.boolean(),
  status: z.string(),
  statusReason: z.string().nullable(),
  restartCount: z.number().int(),
  startedAt: nullableDate,
  lastHeartbeatAt: nullableDate,
  lastError: z.string().nullable(),
  lastErrorAt: nullableDate,
  createdById: id.nullable(),
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});

export const botWithCounts = bot.extend({
  counts: z.object({ groups: z.number().int(), protectedGroups: z.number().int(), channels: z.number().int() }),
});

export const botHealth = z.object({
  botId: id,
  username: z.string(),
  status: z.string(),
  statusReason: z.string().nullable(),
  restartCount: z.number().int(),
  startedAt: nullableDate,
  lastError: z.string().nullable(),
  health: z.enum(['healthy', 'degraded', 'unresponsive', 'crashed', 'stopped']),
  reasons: z.array(z.string()),
  heartbeatAgeMs: z.number().nullable(),
  probe: z.object({
    ok: z.boolean(),
    latencyMs: z.number(),
    error: z.string().optional(),
    checkedAt: isoDateTime.optional(),
  }),
  breaker: z.string(),
  queue: z.object({
    waiting: z.number().int(),
    active: z.number().int(),
    delayed: z.number().int(),
    failed: z.number().int(),
  }),
  lagMs: z.number().nullable(),
  counters: z.record(z.string(), z.number()),
});

// ── groups and channels ────────────────────────────────────────────────────────────────────────────────────

/**
 * A group as lists show it. Group settings live here and in `group` below only: a new setting column is added
 * to these two (and to the PATCH body in routes/groups.ts).
 */
export const groupSummary = z.object({
  id,
  botInstanceId: id,
  chatId: int64,
  title: z.string(),
  username: z.string().nullable(),
  chatType: z.string(),
  isForum: z.boolean(),
  enabled: z.boolean(),
  mode: z.enum(['mute', 'join_request']),
  promptLifetimeSeconds: z.number().int(),
  muteDurationSeconds: z.number().int(),
  senderChatBanAfter: z.number().int(),
  promptStyle: z.enum(['group', 'ephemeral']),
  guardTimeoutAction: z.enum(['decline', 'queue']),
  isGuardBot: z.boolean().nullable(),
  guardCheckedAt: nullableDate,
  language: z.string(),
  memberCount: z.number().int().nullable(),
  missingRights: z.array(z.string()),
  botRemovedAt: nullableDate,
  lastSyncAt: nullableDate,
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});

/** The whole group row (details and the answer to a change). */
export const group = groupSummary.extend({
  linkedChatId: int64.nullable(),
  customPromptText: z.string().nullable(),
  rightsNotifiedAt: nullableDate,
});

export const groupDetails = group.extend({
  channels: z.array(
    z.object({ id, channelId: int64, title: z.string(), username: z.string().nullable(), botIsAdmin: z.boolean() }),
  ),
  uncheckableChannels: z.number().int(),
  openRestrictions: z.number().int(),
  whitelisted: z.number().int(),
});

export const groupChanged = group.extend({ liftRestrictionsJobId: z.string().nullable() });

export const unmuteAllQueued = z.object({
  jobId: z.string(),
  openRestrictions: z.number().int(),
  enabled: z.boolean(),
});

export const channelLinked = z.object({ groupId: id, channelId: id });

export const channel = z.object({
  id,
  botInstanceId: id,
  channelId: int64,
  title: z.string(),
  username: z.string().nullable(),
  inviteLink: z.string().nullable(),
  subscriberCount: z.number().int().nullable(),
  botIsAdmin: z.boolean(),
  lastSyncAt: nullableDate,
  createdAt: isoDateTime,
  updatedAt: isoDateTime,
});

export const channelDetails = channel.extend({
  groups: z.array(z.object({ id, chatId: int64, title: z.string(), enabled: z.boolean() })),
});

// ── logs ───────────────────────────────────────────────────────────────────────────────────────────────────

export const verification = z.object({
  id: int64,
  botInstanceId: id,
  chatId: int64,
  userId: int64,
  status: z.enum(['verified', 'restricted', 'approved', 'declined', 'skipped', 'error']),
  latencyMs: z.number().int(),
  cached: z.boolean(),
  errorType: z.string().nullable(),
  /** How a guard-bot join request was decided (guard_at_once, guard_web_app, guard_timeout, guard_queued). */
  reason: z.string().nullable(),
  createdAt: isoDateTime,
});

/** Admins get ip, userAgent and a failed login's newValues as null; owners get them. */
export const auditEntry = z.object({
  id,
  actorId: id.nullable(),
  actorTokenId: id.nullable(),
  actorEmail: z.string().nullable(),
  action: z.string(),
  resourceType: z.string(),
  resourceId: z.string().nullable(),
  oldValues: z.unknown().describe('JSON: the changed fields before'),
  newValues: z.unknown().describe('JSON: the changed fields after'),
  ip: z.string().nullable(),
  userAgent: z.string().nullable(),
  createdAt: isoDateTime,
});

// ── statistics ─────────────────────────────────────────────────────────────────────────────────────────────

const count = z.number().int();
const rate = z.number().nullable();

const verificationCounts = {
  total: count,
  verified: count,
  restricted: count,
  approved: count,
  declined: count,
  skipped: count,
  errors: count,
  cacheHits: count,
  latencySumMs: z.number(),
  latencyBuckets: z.array(count),
  guardAtOnce: count,
  guardWebApp: count,
  guardTimeout: count,
  guardQueued: count,
};
const rateFields = {
  successRate: rate,
  passRate: rate,
  cacheHitRate: rate,
  avgLatencyMs: rate,
  latencyPercentilesMs: z.object({ p50: rate, p90: rate, p95: rate, p99: rate }),
};

export const periodFigures = z.object({
  ...verificationCounts,
  ...rateFields,
  since: nullableDate,
  apiCalls: count,
  apiFailures: count,
  api429: count,
});

const seriesPoint = z.object({
  hour: isoDateTime,
  total: count,
  verified: count,
  restricted: count,
  approved: count,
  declined: count,
  skipped: count,
  errors: count,
  p50Ms: rate,
  p95Ms: rate,
});

const botFigures = z.object({
  botId: id,
  username: z.string(),
  status: z.string(),
  isActive: z.boolean(),
  groups: count,
  protectedGroups: count,
  today: periodFigures,
  week: periodFigures,
});

const groupFigures = z.object({
  botId: id,
  chatId: int64,
  title: z.string().nullable(),
  total: count,
  verified: count,
  restricted: count,
  errors: count,
});

const apiMethodFigures = z.object({
  method: z.string(),
  calls: count,
  failures: count,
  error429: count,
  avgLatencyMs: rate,
});

/** queues/dashboard.ts DashboardData. */
export const dashboardData = z.object({
  generatedAt: isoDateTime,
  watermarks: z.record(z.string(), z.string()),
  totals: periodFigures,
  today: periodFigures,
  week: periodFigures,
  last24h: periodFigures,
  last7d: periodFigures,
  botsByStatus: z.record(z.string(), count),
  bots: z.array(botFigures),
  topGroups: z.array(groupFigures),
  apiMethods24h: z.array(apiMethodFigures),
  series: z.object({ hourly24h: z.array(seriesPoint), hourly7d: z.array(seriesPoint) }),
});

/** Every statistics answer says how fresh the snapshot is; `available` is false before the first rollup. */
const snapshotMeta = { generatedAt: nullableDate, ageMs: z.number().nullable(), available: z.boolean() };

export const dashboardResponse = z.object({ ...snapshotMeta, data: dashboardData.nullable() });

export const overviewResponse = z.object({
  ...snapshotMeta,
  totals: periodFigures.nullable(),
  today: periodFigures.nullable(),
  week: periodFigures.nullable(),
  last24h: periodFigures.nullable(),
  last7d: periodFigures.nullable(),
  botsByStatus: z.record(z.string(), count),
});

const seriesHead = { from: isoDateTime, to: isoDateTime, bucket: z.enum(['hour', 'day']) };

export const verificationTrends = z.object({
  ...seriesHead,
  /** The counts without the raw latency histogram, with the rates derived from it. */
  points: z.array(z.object({ at: isoDateTime, ...verificationCounts, ...rateFields }).omit({ latencyBuckets: true })),
});

export const userGrowth = z.object({
  ...seriesHead,
  points: z.array(z.object({ at: isoDateTime, admitted: count, held: count, admittedTotal: count, heldTotal: count })),
});

/** One chart: its name, the snapshot's freshness, and data whose shape depends on the chart (null before the first rollup). */
export const chartResponse = z.object({
  chart: z.string(),
  ...snapshotMeta,
  period: z.string().optional(),
  range: z.enum(['24h', '7d']).optional(),
  percentiles: rateFields.latencyPercentilesMs.optional(),
  data: z
    .union([
      z.array(z.object({ status: z.string(), count })),
      z.object({ hits: count, misses: count, hitRate: rate }),
      z.object({
        protected: count,
        unprotected: count,
        byBot: z.array(z.object({ botId: id, username: z.string(), groups: count, protectedGroups: count })),
      }),
      z.array(apiMethodFigures),
      z.array(z.object({ hour: isoDateTime, total: count, verified: count, restricted: count, errors: count })),
      z.array(z.object({ bucket: z.string(), count })),
      z.array(groupFigures),
      z.array(z.object({ hour: isoDateTime, p50Ms: rate, p95Ms: rate })),
      z.array(z.object({ hour: isoDateTime, hits: count, total: count, hitRate: rate })),
      z.object({
        byStatus: z.record(z.string(), count),
        bots: z.array(
          z.object({
            botId: id,
            username: z.string(),
            status: z.string(),
            isActive: z.boolean(),
            today: z.object({ total: count, errors: count, successRate: rate }),
          }),
        ),
      }),
    ])
    .nullable(),
});

// ── exports ────────────────────────────────────────────────────────────────────────────────────────────────

export const exportJob = z.object({
  id,
  kind: z.string(),
  filters: z.record(z.string(), z.unknown()),
  status: z.enum(['queued', 'running', 'done', 'failed']),
  progressRows: int64,
  rows: int64.nullable(),
  bytes: int64.nullable(),
  sha256: z.string().nullable(),
  fileDeletedAt: nullableDate,
  requestedById: id.nullable(),
  scheduled: z.boolean(),
  error: z.string().nullable(),
  startedAt: nullableDate,
  finishedAt: nullableDate,
  createdAt: isoDateTime,
});
