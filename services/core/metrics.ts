import client from 'prom-client';

/**
 * One registry per process, shared by every role it runs, so a process has exactly one /metrics.
 * Default Node.js metrics carry no prefix (the public Grafana dashboard 11159 expects their plain names);
 * ours are prefixed `nezuko_`. Labels stay low-cardinality: `bot` yes, user or group ids never.
 */
export function createMetrics() {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const reg = [registry];
  const latencyBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
  /** When this process last wrote (or read) the dashboard snapshot; its age is computed at scrape time. */
  let snapshotGeneratedAt = 0;
  /** Readiness of this process' Redis connections by name, read at scrape time. */
  let redisStatus: () => Map<string, number> = () => new Map();

  return {
    registry,
    httpRequestDuration: new client.Histogram({
      name: 'http_request_duration_seconds',
      help: 'HTTP request duration by method, route template and status',
      labelNames: ['method', 'route', 'status'] as const,
      buckets: latencyBuckets,
      registers: reg,
    }),
    updatesPolled: new client.Counter({
      name: 'nezuko_updates_polled_total',
      help: 'Updates read with getUpdates and queued',
      labelNames: ['bot'] as const,
      registers: reg,
    }),
    pollErrors: new client.Counter({
      name: 'nezuko_poll_errors_total',
      help: 'getUpdates failures by kind',
      labelNames: ['bot', 'kind'] as const,
      registers: reg,
    }),
    verifications: new client.Counter({
      name: 'nezuko_verifications_total',
      help: 'Verification decisions by status',
      labelNames: ['bot', 'status'] as const,
      registers: reg,
    }),
    verificationDuration: new client.Histogram({
      name: 'nezuko_verification_duration_seconds',
      help: 'Time from the poller receiving an update to the decision',
      labelNames: ['bot'] as const,
      buckets: latencyBuckets,
      registers: reg,
    }),
    jobDuration: new client.Histogram({
      name: 'nezuko_job_duration_seconds',
      help: 'Job processing time by queue kind, job name and outcome',
      labelNames: ['queue', 'job', 'outcome'] as const,
      buckets: latencyBuckets,
      registers: reg,
    }),
    jobsHandedBack: new client.Counter({
      name: 'nezuko_jobs_handed_back_total',
      help: 'Jobs handed back to their queue delayed (rate limited, breaker open, retry later), by bot and reason',
      labelNames: ['bot', 'reason'] as const,
      registers: reg,
    }),
    updatesNotQueued: new client.Counter({
      name: 'nezuko_updates_not_queued_total',
      help: 'Polled updates not worth a job (nobody acts on them, or a join already reported in the same batch), by reason',
      labelNames: ['bot', 'reason'] as const,
      registers: reg,
    }),
    jobCodeErrors: new client.Counter({
      name: 'nezuko_job_code_errors_total',
      help: "Jobs that hit an error only a code change fixes (TypeError, RangeError, …): failed after a retry, never skipped; the log line carries the error's fingerprint",
      labelNames: ['bot', 'job'] as const,
      registers: reg,
    }),
    channelPosts: new client.Counter({
      name: 'nezuko_channel_posts_total',
      help: 'Posts on behalf of a foreign channel in a protected group: deleted, and channels banned (banChatSenderChat)',
      labelNames: ['bot', 'action'] as const,
      registers: reg,
    }),
    skippedUpdates: new client.Counter({
      name: 'nezuko_updates_skipped_total',
      help: 'Updates skipped as malformed or not ours, by reason',
      labelNames: ['bot', 'reason'] as const,
      registers: reg,
    }),
    telegramCalls: new client.Counter({
      name: 'nezuko_telegram_calls_total',
      help: 'Telegram Bot API calls by method and outcome',
      labelNames: ['bot', 'method', 'outcome'] as const,
      registers: reg,
    }),
    telegramCallDuration: new client.Histogram({
      name: 'nezuko_telegram_call_duration_seconds',
      help: 'Telegram Bot API call duration',
      labelNames: ['bot', 'method'] as const,
      buckets: latencyBuckets,
      registers: reg,
    }),
    telegramRateLimited: new client.Counter({
      name: 'nezuko_telegram_429_total',
      help: '429 answers from Telegram',
      labelNames: ['bot'] as const,
      registers: reg,
    }),
    telegramRetryAfterSeconds: new client.Counter({
      name: 'nezuko_telegram_retry_after_seconds_total',
      help: 'Seconds waited because of retry_after',
      labelNames: ['bot'] as const,
      registers: reg,
    }),
    breakerState: new client.Gauge({
      name: 'nezuko_circuit_breaker_open',
      help: "1 while the bot's circuit breaker is open or half-open, else 0",
      labelNames: ['bot'] as const,
      registers: reg,
    }),
    membershipCache: new client.Counter({
      name: 'nezuko_membership_cache_total',
      help: 'Membership cache lookups by result',
      labelNames: ['bot', 'result'] as const,
      registers: reg,
    }),
    dbWriteBatches: new client.Counter({
      name: 'nezuko_log_rows_written_total',
      help: 'Log rows written in batches, by table',
      labelNames: ['table'] as const,
      registers: reg,
    }),
    dbWriteFailures: new client.Counter({
      name: 'nezuko_log_write_failures_total',
      help: 'Failed log batch writes (rows are kept and retried)',
      labelNames: ['table'] as const,
      registers: reg,
    }),
    rollupRows: new client.Counter({
      name: 'nezuko_rollup_rows_total',
      help: 'Log rows rolled up into the hourly statistics, by log table',
      labelNames: ['table'] as const,
      registers: reg,
    }),
    exportRows: new client.Counter({
      name: 'nezuko_export_rows_total',
      help: 'Rows written to CSV exports, by kind',
      labelNames: ['kind'] as const,
      registers: reg,
    }),
    exportDuration: new client.Histogram({
      name: 'nezuko_export_duration_seconds',
      help: 'CSV export duration by kind and outcome',
      labelNames: ['kind', 'outcome'] as const,
      buckets: [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600],
      registers: reg,
    }),
    retentionDeleted: new client.Counter({
      name: 'nezuko_retention_deleted_rows_total',
      help: 'Rows (or export files) deleted by retention, by table',
      labelNames: ['table'] as const,
      registers: reg,
    }),
    countsSyncChats: new client.Counter({
      name: 'nezuko_counts_sync_chats_total',
      help: 'Chats handled by the counts sync, by outcome (ok, failed, deferred to the next run, skipped: breaker open)',
      labelNames: ['bot', 'outcome'] as const,
      registers: reg,
    }),
    dashboardSnapshotAge: new client.Gauge({
      name: 'nezuko_dashboard_snapshot_age_seconds',
      help: 'Age of the newest dashboard snapshot this process wrote or read',
      registers: reg,
      collect() {
        if (snapshotGeneratedAt) this.set((Date.now() - snapshotGeneratedAt) / 1000);
      },
    }),
    botRestarts: new client.Counter({
      name: 'nezuko_bot_restarts_total',
      help: "Automatic restarts of a bot's poll loop",
      labelNames: ['bot'] as const,
      registers: reg,
    }),
    dbQueries: new client.Counter({
      name: 'nezuko_db_queries_total',
      help: 'Database queries issued by this process',
      registers: reg,
    }),
    dbQueryDuration: new client.Histogram({
      name: 'nezuko_db_query_duration_seconds',
      help: 'Database query duration',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: reg,
    }),
    redisConnected: new client.Gauge({
      name: 'nezuko_redis_connected',
      help: '1 while a Redis connection of this process is ready, by purpose',
      labelNames: ['connection'] as const,
      registers: reg,
      collect() {
        for (const [connection, ready] of redisStatus()) this.set({ connection }, ready);
      },
    }),
    trackRedis(status: () => Map<string, number>): void {
      redisStatus = status;
    },
    /** Records the generatedAt of the newest dashboard snapshot seen, for nezuko_dashboard_snapshot_age_seconds. */
    markDashboardSnapshot(generatedAt: Date): void {
      snapshotGeneratedAt = Math.max(snapshotGeneratedAt, generatedAt.getTime());
    },
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
