-- CreateTable
CREATE TABLE "admin_users" (
    "id" SERIAL NOT NULL,
    "email" TEXT NOT NULL,
    "password_hash" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'viewer',
    "display_name" TEXT,
    "telegram_user_id" BIGINT,
    "last_login_at" TIMESTAMPTZ(3),
    "deleted_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admin_users_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "admin_sessions" (
    "id" SERIAL NOT NULL,
    "admin_user_id" INTEGER NOT NULL,
    "token_hash" TEXT NOT NULL,
    "ip" TEXT,
    "user_agent" TEXT,
    "expires_at" TIMESTAMPTZ(3) NOT NULL,
    "last_seen_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admin_sessions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_tokens" (
    "id" SERIAL NOT NULL,
    "name" TEXT NOT NULL,
    "token_hash" TEXT NOT NULL,
    "token_prefix" TEXT NOT NULL,
    "role" TEXT NOT NULL DEFAULT 'viewer',
    "created_by_id" INTEGER,
    "last_used_at" TIMESTAMPTZ(3),
    "expires_at" TIMESTAMPTZ(3),
    "revoked_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_tokens_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "admin_audit_log" (
    "id" SERIAL NOT NULL,
    "actor_id" INTEGER,
    "actor_token_id" INTEGER,
    "actor_email" TEXT,
    "action" TEXT NOT NULL,
    "resource_type" TEXT NOT NULL,
    "resource_id" TEXT,
    "old_values" JSONB,
    "new_values" JSONB,
    "ip" TEXT,
    "user_agent" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "admin_audit_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "bot_instances" (
    "id" SERIAL NOT NULL,
    "telegram_bot_id" BIGINT NOT NULL,
    "username" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "token_encrypted" TEXT NOT NULL,
    "is_active" BOOLEAN NOT NULL DEFAULT true,
    "status" TEXT NOT NULL DEFAULT 'stopped',
    "status_reason" TEXT,
    "restart_count" INTEGER NOT NULL DEFAULT 0,
    "started_at" TIMESTAMPTZ(3),
    "last_heartbeat_at" TIMESTAMPTZ(3),
    "last_error" TEXT,
    "last_error_at" TIMESTAMPTZ(3),
    "deleted_at" TIMESTAMPTZ(3),
    "created_by_id" INTEGER,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "bot_instances_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "protected_groups" (
    "id" SERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "chat_id" BIGINT NOT NULL,
    "title" TEXT NOT NULL,
    "username" TEXT,
    "chat_type" TEXT NOT NULL DEFAULT 'supergroup',
    "is_forum" BOOLEAN NOT NULL DEFAULT false,
    "linked_chat_id" BIGINT,
    "enabled" BOOLEAN NOT NULL DEFAULT false,
    "mode" TEXT NOT NULL DEFAULT 'mute',
    "prompt_lifetime_seconds" INTEGER NOT NULL DEFAULT 300,
    "mute_duration_seconds" INTEGER NOT NULL DEFAULT 0,
    "language" TEXT NOT NULL DEFAULT 'en',
    "custom_prompt_text" TEXT,
    "member_count" INTEGER,
    "last_sync_at" TIMESTAMPTZ(3),
    "missing_rights" TEXT[] DEFAULT ARRAY[]::TEXT[],
    "rights_notified_at" TIMESTAMPTZ(3),
    "bot_removed_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "protected_groups_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "enforced_channels" (
    "id" SERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "channel_id" BIGINT NOT NULL,
    "title" TEXT NOT NULL,
    "username" TEXT,
    "invite_link" TEXT,
    "subscriber_count" INTEGER,
    "bot_is_admin" BOOLEAN NOT NULL DEFAULT false,
    "last_sync_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "enforced_channels_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "group_channel_links" (
    "group_id" INTEGER NOT NULL,
    "channel_id" INTEGER NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "group_channel_links_pkey" PRIMARY KEY ("group_id","channel_id")
);

-- CreateTable
CREATE TABLE "group_whitelist" (
    "id" SERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "group_id" INTEGER NOT NULL,
    "user_id" BIGINT NOT NULL,
    "added_by_user_id" BIGINT,
    "note" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "group_whitelist_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "restrictions" (
    "id" SERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "group_id" INTEGER NOT NULL,
    "user_id" BIGINT NOT NULL,
    "reason" TEXT NOT NULL DEFAULT 'not_subscribed',
    "prompt_message_id" INTEGER,
    "muted_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "muted_until" TIMESTAMPTZ(3),
    "lifted_at" TIMESTAMPTZ(3),
    "lift_reason" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "restrictions_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "verification_log" (
    "id" BIGSERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "chat_id" BIGINT NOT NULL,
    "user_id" BIGINT NOT NULL,
    "status" TEXT NOT NULL,
    "latency_ms" INTEGER NOT NULL DEFAULT 0,
    "cached" BOOLEAN NOT NULL DEFAULT false,
    "error_type" TEXT,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "verification_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "api_call_log" (
    "id" BIGSERIAL NOT NULL,
    "bot_instance_id" INTEGER NOT NULL,
    "method" TEXT NOT NULL,
    "chat_id" BIGINT,
    "success" BOOLEAN NOT NULL,
    "error_code" INTEGER,
    "latency_ms" INTEGER NOT NULL DEFAULT 0,
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_call_log_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "verification_stats_hourly" (
    "bot_instance_id" INTEGER NOT NULL,
    "chat_id" BIGINT NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "total" INTEGER NOT NULL DEFAULT 0,
    "verified" INTEGER NOT NULL DEFAULT 0,
    "restricted" INTEGER NOT NULL DEFAULT 0,
    "approved" INTEGER NOT NULL DEFAULT 0,
    "declined" INTEGER NOT NULL DEFAULT 0,
    "skipped" INTEGER NOT NULL DEFAULT 0,
    "errors" INTEGER NOT NULL DEFAULT 0,
    "cache_hits" INTEGER NOT NULL DEFAULT 0,
    "latency_sum_ms" BIGINT NOT NULL DEFAULT 0,
    "latency_buckets" INTEGER[] DEFAULT ARRAY[0, 0, 0, 0, 0, 0, 0, 0, 0, 0]::INTEGER[],
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "verification_stats_hourly_pkey" PRIMARY KEY ("bot_instance_id","chat_id","hour")
);

-- CreateTable
CREATE TABLE "api_call_stats_hourly" (
    "bot_instance_id" INTEGER NOT NULL,
    "hour" TIMESTAMPTZ(3) NOT NULL,
    "method" TEXT NOT NULL,
    "calls" INTEGER NOT NULL DEFAULT 0,
    "success_count" INTEGER NOT NULL DEFAULT 0,
    "failure_count" INTEGER NOT NULL DEFAULT 0,
    "error_429_count" INTEGER NOT NULL DEFAULT 0,
    "latency_sum_ms" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "api_call_stats_hourly_pkey" PRIMARY KEY ("bot_instance_id","hour","method")
);

-- CreateTable
CREATE TABLE "dashboard_snapshot" (
    "id" INTEGER NOT NULL DEFAULT 1,
    "data" JSONB NOT NULL,
    "generated_at" TIMESTAMPTZ(3) NOT NULL,

    CONSTRAINT "dashboard_snapshot_pkey" PRIMARY KEY ("id")
);

-- CreateTable
CREATE TABLE "rollup_watermarks" (
    "name" TEXT NOT NULL,
    "last_id" BIGINT NOT NULL DEFAULT 0,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "rollup_watermarks_pkey" PRIMARY KEY ("name")
);

-- CreateTable
CREATE TABLE "exports" (
    "id" SERIAL NOT NULL,
    "kind" TEXT NOT NULL,
    "filters" JSONB NOT NULL DEFAULT '{}',
    "status" TEXT NOT NULL DEFAULT 'queued',
    "progress_rows" BIGINT NOT NULL DEFAULT 0,
    "rows" BIGINT,
    "bytes" BIGINT,
    "sha256" TEXT,
    "file_path" TEXT,
    "file_deleted_at" TIMESTAMPTZ(3),
    "requested_by_id" INTEGER,
    "scheduled" BOOLEAN NOT NULL DEFAULT false,
    "error" TEXT,
    "started_at" TIMESTAMPTZ(3),
    "finished_at" TIMESTAMPTZ(3),
    "created_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,
    "updated_at" TIMESTAMPTZ(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "exports_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "admin_users_deleted_at_idx" ON "admin_users"("deleted_at");

-- CreateIndex
CREATE UNIQUE INDEX "admin_sessions_token_hash_key" ON "admin_sessions"("token_hash");

-- CreateIndex
CREATE INDEX "admin_sessions_admin_user_id_idx" ON "admin_sessions"("admin_user_id");

-- CreateIndex
CREATE INDEX "admin_sessions_expires_at_idx" ON "admin_sessions"("expires_at");

-- CreateIndex
CREATE UNIQUE INDEX "api_tokens_token_hash_key" ON "api_tokens"("token_hash");

-- CreateIndex
CREATE INDEX "api_tokens_created_by_id_idx" ON "api_tokens"("created_by_id");

-- CreateIndex
CREATE INDEX "admin_audit_log_created_at_actor_id_action_idx" ON "admin_audit_log"("created_at" DESC, "actor_id", "action");

-- CreateIndex
CREATE INDEX "admin_audit_log_actor_id_created_at_idx" ON "admin_audit_log"("actor_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "admin_audit_log_resource_type_resource_id_created_at_idx" ON "admin_audit_log"("resource_type", "resource_id", "created_at" DESC);

-- CreateIndex
CREATE UNIQUE INDEX "bot_instances_telegram_bot_id_key" ON "bot_instances"("telegram_bot_id");

-- CreateIndex
CREATE INDEX "bot_instances_is_active_deleted_at_idx" ON "bot_instances"("is_active", "deleted_at");

-- CreateIndex
CREATE INDEX "bot_instances_status_idx" ON "bot_instances"("status");

-- CreateIndex
CREATE INDEX "protected_groups_bot_instance_id_enabled_idx" ON "protected_groups"("bot_instance_id", "enabled");

-- CreateIndex
CREATE INDEX "protected_groups_chat_id_idx" ON "protected_groups"("chat_id");

-- CreateIndex
CREATE UNIQUE INDEX "protected_groups_bot_instance_id_chat_id_key" ON "protected_groups"("bot_instance_id", "chat_id");

-- CreateIndex
CREATE UNIQUE INDEX "protected_groups_id_bot_instance_id_key" ON "protected_groups"("id", "bot_instance_id");

-- CreateIndex
CREATE INDEX "enforced_channels_channel_id_idx" ON "enforced_channels"("channel_id");

-- CreateIndex
CREATE UNIQUE INDEX "enforced_channels_bot_instance_id_channel_id_key" ON "enforced_channels"("bot_instance_id", "channel_id");

-- CreateIndex
CREATE UNIQUE INDEX "enforced_channels_id_bot_instance_id_key" ON "enforced_channels"("id", "bot_instance_id");

-- CreateIndex
CREATE INDEX "group_channel_links_channel_id_idx" ON "group_channel_links"("channel_id");

-- CreateIndex
CREATE INDEX "group_channel_links_bot_instance_id_idx" ON "group_channel_links"("bot_instance_id");

-- CreateIndex
CREATE INDEX "group_whitelist_bot_instance_id_idx" ON "group_whitelist"("bot_instance_id");

-- CreateIndex
CREATE UNIQUE INDEX "group_whitelist_group_id_user_id_key" ON "group_whitelist"("group_id", "user_id");

-- CreateIndex
CREATE INDEX "restrictions_bot_instance_id_user_id_idx" ON "restrictions"("bot_instance_id", "user_id");

-- CreateIndex
CREATE INDEX "restrictions_group_id_muted_at_idx" ON "restrictions"("group_id", "muted_at" DESC);

-- CreateIndex
CREATE INDEX "verification_log_bot_instance_id_created_at_idx" ON "verification_log"("bot_instance_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "verification_log_chat_id_created_at_idx" ON "verification_log"("chat_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "verification_log_user_id_created_at_idx" ON "verification_log"("user_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "verification_log_created_at_status_idx" ON "verification_log"("created_at" DESC, "status");

-- CreateIndex
CREATE INDEX "api_call_log_bot_instance_id_created_at_idx" ON "api_call_log"("bot_instance_id", "created_at" DESC);

-- CreateIndex
CREATE INDEX "api_call_log_created_at_idx" ON "api_call_log"("created_at" DESC);

-- CreateIndex
CREATE INDEX "verification_stats_hourly_hour_idx" ON "verification_stats_hourly"("hour");

-- CreateIndex
CREATE INDEX "api_call_stats_hourly_hour_idx" ON "api_call_stats_hourly"("hour");

-- CreateIndex
CREATE INDEX "exports_created_at_idx" ON "exports"("created_at" DESC);

-- CreateIndex
CREATE INDEX "exports_status_idx" ON "exports"("status");

-- AddForeignKey
ALTER TABLE "admin_sessions" ADD CONSTRAINT "admin_sessions_admin_user_id_fkey" FOREIGN KEY ("admin_user_id") REFERENCES "admin_users"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_tokens" ADD CONSTRAINT "api_tokens_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "admin_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "admin_audit_log" ADD CONSTRAINT "admin_audit_log_actor_id_fkey" FOREIGN KEY ("actor_id") REFERENCES "admin_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "admin_audit_log" ADD CONSTRAINT "admin_audit_log_actor_token_id_fkey" FOREIGN KEY ("actor_token_id") REFERENCES "api_tokens"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "bot_instances" ADD CONSTRAINT "bot_instances_created_by_id_fkey" FOREIGN KEY ("created_by_id") REFERENCES "admin_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "protected_groups" ADD CONSTRAINT "protected_groups_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "enforced_channels" ADD CONSTRAINT "enforced_channels_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_channel_links" ADD CONSTRAINT "group_channel_links_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_channel_links" ADD CONSTRAINT "group_channel_links_group_id_bot_instance_id_fkey" FOREIGN KEY ("group_id", "bot_instance_id") REFERENCES "protected_groups"("id", "bot_instance_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_channel_links" ADD CONSTRAINT "group_channel_links_channel_id_bot_instance_id_fkey" FOREIGN KEY ("channel_id", "bot_instance_id") REFERENCES "enforced_channels"("id", "bot_instance_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_whitelist" ADD CONSTRAINT "group_whitelist_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "group_whitelist" ADD CONSTRAINT "group_whitelist_group_id_bot_instance_id_fkey" FOREIGN KEY ("group_id", "bot_instance_id") REFERENCES "protected_groups"("id", "bot_instance_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "restrictions" ADD CONSTRAINT "restrictions_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "restrictions" ADD CONSTRAINT "restrictions_group_id_bot_instance_id_fkey" FOREIGN KEY ("group_id", "bot_instance_id") REFERENCES "protected_groups"("id", "bot_instance_id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "verification_log" ADD CONSTRAINT "verification_log_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_call_log" ADD CONSTRAINT "api_call_log_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "verification_stats_hourly" ADD CONSTRAINT "verification_stats_hourly_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "api_call_stats_hourly" ADD CONSTRAINT "api_call_stats_hourly_bot_instance_id_fkey" FOREIGN KEY ("bot_instance_id") REFERENCES "bot_instances"("id") ON DELETE CASCADE ON UPDATE CASCADE;

-- AddForeignKey
ALTER TABLE "exports" ADD CONSTRAINT "exports_requested_by_id_fkey" FOREIGN KEY ("requested_by_id") REFERENCES "admin_users"("id") ON DELETE SET NULL ON UPDATE CASCADE;

-- ═══════════════════════════════════════════════════════════════════════════════════════════════
-- Hand-written: CHECK constraints, partial unique indexes, full-text indexes.
-- Prisma cannot express these, and its schema diff leaves them alone. Allowed values are documented
-- in prisma/schema.prisma next to each column, and test/db exercises every constraint.
-- Not blank means: contains a character that is not whitespace (btrim would let tabs and newlines pass).
-- (No semicolons or quotes in comments here: some migration runners split statements naively.)
-- ═══════════════════════════════════════════════════════════════════════════════════════════════

-- admin_users
ALTER TABLE "admin_users"
  ADD CONSTRAINT "admin_users_role_check" CHECK ("role" IN ('owner', 'admin', 'viewer')),
  ADD CONSTRAINT "admin_users_email_normalized_check" CHECK ("email" = lower("email")),
  ADD CONSTRAINT "admin_users_email_format_check" CHECK ("email" ~ '^[^@[:space:]]+@[^@[:space:]]+$'),
  ADD CONSTRAINT "admin_users_password_hash_check" CHECK ("password_hash" ~ '[^[:space:]]');
-- Email is unique among live (not soft-deleted) users.
CREATE UNIQUE INDEX "admin_users_email_live_key" ON "admin_users" (lower("email")) WHERE "deleted_at" IS NULL;

-- admin_sessions
ALTER TABLE "admin_sessions"
  ADD CONSTRAINT "admin_sessions_token_hash_check" CHECK ("token_hash" ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT "admin_sessions_expiry_check" CHECK ("expires_at" > "created_at");

-- api_tokens
ALTER TABLE "api_tokens"
  ADD CONSTRAINT "api_tokens_role_check" CHECK ("role" IN ('owner', 'admin', 'viewer')),
  ADD CONSTRAINT "api_tokens_token_hash_check" CHECK ("token_hash" ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT "api_tokens_name_check" CHECK ("name" ~ '[^[:space:]]');

-- admin_audit_log
ALTER TABLE "admin_audit_log"
  ADD CONSTRAINT "admin_audit_log_action_check" CHECK ("action" ~ '[^[:space:]]'),
  ADD CONSTRAINT "admin_audit_log_resource_type_check" CHECK ("resource_type" ~ '[^[:space:]]');

-- bot_instances
ALTER TABLE "bot_instances"
  ADD CONSTRAINT "bot_instances_status_check"
    CHECK ("status" IN ('starting', 'running', 'stopping', 'stopped', 'crashed', 'restarting')),
  ADD CONSTRAINT "bot_instances_restart_count_check" CHECK ("restart_count" >= 0),
  ADD CONSTRAINT "bot_instances_telegram_bot_id_check" CHECK ("telegram_bot_id" > 0),
  ADD CONSTRAINT "bot_instances_username_check" CHECK ("username" ~ '^[A-Za-z0-9_]+$'),
  ADD CONSTRAINT "bot_instances_name_check" CHECK ("name" ~ '[^[:space:]]'),
  ADD CONSTRAINT "bot_instances_token_encrypted_check" CHECK ("token_encrypted" ~ '[^[:space:]]');

-- protected_groups
ALTER TABLE "protected_groups"
  ADD CONSTRAINT "protected_groups_chat_id_check" CHECK ("chat_id" < 0),
  ADD CONSTRAINT "protected_groups_title_check" CHECK ("title" ~ '[^[:space:]]'),
  ADD CONSTRAINT "protected_groups_username_check" CHECK ("username" IS NULL OR "username" ~ '^[A-Za-z0-9_]+$'),
  ADD CONSTRAINT "protected_groups_chat_type_check" CHECK ("chat_type" IN ('group', 'supergroup')),
  ADD CONSTRAINT "protected_groups_mode_check" CHECK ("mode" IN ('mute', 'join_request')),
  ADD CONSTRAINT "protected_groups_prompt_lifetime_check" CHECK ("prompt_lifetime_seconds" BETWEEN 10 AND 86400),
  ADD CONSTRAINT "protected_groups_mute_duration_check"
    CHECK ("mute_duration_seconds" = 0 OR "mute_duration_seconds" BETWEEN 30 AND 31622400),
  ADD CONSTRAINT "protected_groups_language_check" CHECK ("language" ~ '^[a-z]{2}$'),
  ADD CONSTRAINT "protected_groups_custom_prompt_text_check"
    CHECK ("custom_prompt_text" IS NULL OR ("custom_prompt_text" ~ '[^[:space:]]' AND char_length("custom_prompt_text") <= 2048)),
  ADD CONSTRAINT "protected_groups_member_count_check" CHECK ("member_count" >= 0),
  ADD CONSTRAINT "protected_groups_missing_rights_check"
    CHECK ("missing_rights" <@ ARRAY['can_restrict_members', 'can_delete_messages', 'can_invite_users']::text[]);
-- Group search must use the same expression: to_tsvector(simple, title) @@ plainto_tsquery(simple, q)
-- with the simple configuration: titles are names in any language, no stemming or stop words.
CREATE INDEX "protected_groups_title_fts_idx" ON "protected_groups" USING GIN (to_tsvector('simple', "title"));

-- enforced_channels
ALTER TABLE "enforced_channels"
  ADD CONSTRAINT "enforced_channels_channel_id_check" CHECK ("channel_id" < 0),
  ADD CONSTRAINT "enforced_channels_title_check" CHECK ("title" ~ '[^[:space:]]'),
  ADD CONSTRAINT "enforced_channels_username_check" CHECK ("username" IS NULL OR "username" ~ '^[A-Za-z0-9_]+$'),
  ADD CONSTRAINT "enforced_channels_subscriber_count_check" CHECK ("subscriber_count" >= 0);
-- Channel search must use the same expression as below (title and username, simple configuration).
CREATE INDEX "enforced_channels_search_fts_idx" ON "enforced_channels"
  USING GIN (to_tsvector('simple', coalesce("title", '') || ' ' || coalesce("username", '')));

-- group_whitelist
ALTER TABLE "group_whitelist"
  ADD CONSTRAINT "group_whitelist_user_id_check" CHECK ("user_id" > 0);

-- restrictions
ALTER TABLE "restrictions"
  ADD CONSTRAINT "restrictions_user_id_check" CHECK ("user_id" > 0),
  ADD CONSTRAINT "restrictions_reason_check" CHECK ("reason" IN ('not_subscribed', 'left_channel')),
  ADD CONSTRAINT "restrictions_lift_reason_check"
    CHECK ("lift_reason" IS NULL OR "lift_reason" IN ('verified', 'unprotected', 'expired', 'manual', 'bot_removed')),
  ADD CONSTRAINT "restrictions_lifted_check" CHECK (("lifted_at" IS NULL) = ("lift_reason" IS NULL)),
  ADD CONSTRAINT "restrictions_muted_until_check" CHECK ("muted_until" IS NULL OR "muted_until" > "muted_at"),
  ADD CONSTRAINT "restrictions_prompt_message_id_check" CHECK ("prompt_message_id" > 0);
-- At most one open restriction per user per group.
CREATE UNIQUE INDEX "restrictions_open_group_user_key" ON "restrictions" ("group_id", "user_id") WHERE "lifted_at" IS NULL;

-- verification_log
ALTER TABLE "verification_log"
  ADD CONSTRAINT "verification_log_status_check"
    CHECK ("status" IN ('verified', 'restricted', 'approved', 'declined', 'skipped', 'error')),
  ADD CONSTRAINT "verification_log_latency_check" CHECK ("latency_ms" >= 0),
  ADD CONSTRAINT "verification_log_error_type_check" CHECK ("status" <> 'error' OR "error_type" IS NOT NULL);

-- api_call_log
ALTER TABLE "api_call_log"
  ADD CONSTRAINT "api_call_log_method_check" CHECK ("method" ~ '[^[:space:]]'),
  ADD CONSTRAINT "api_call_log_latency_check" CHECK ("latency_ms" >= 0),
  ADD CONSTRAINT "api_call_log_error_code_check" CHECK (NOT "success" OR "error_code" IS NULL);

-- verification_stats_hourly
ALTER TABLE "verification_stats_hourly"
  ADD CONSTRAINT "verification_stats_hourly_chat_id_check" CHECK ("chat_id" <= 0),
  ADD CONSTRAINT "verification_stats_hourly_hour_check" CHECK (extract(epoch FROM "hour") % 3600 = 0),
  ADD CONSTRAINT "verification_stats_hourly_counts_check" CHECK (
    "total" >= 0 AND "verified" >= 0 AND "restricted" >= 0 AND "approved" >= 0 AND "declined" >= 0
    AND "skipped" >= 0 AND "errors" >= 0 AND "cache_hits" >= 0 AND "latency_sum_ms" >= 0),
  ADD CONSTRAINT "verification_stats_hourly_total_check"
    CHECK ("total" = "verified" + "restricted" + "approved" + "declined" + "skipped" + "errors"),
  ADD CONSTRAINT "verification_stats_hourly_cache_hits_check" CHECK ("cache_hits" <= "total"),
  ADD CONSTRAINT "verification_stats_hourly_latency_buckets_check" CHECK (
    cardinality("latency_buckets") = 10 AND array_position("latency_buckets", NULL) IS NULL
    AND 0 <= ALL ("latency_buckets"));

-- api_call_stats_hourly
ALTER TABLE "api_call_stats_hourly"
  ADD CONSTRAINT "api_call_stats_hourly_method_check" CHECK ("method" ~ '[^[:space:]]'),
  ADD CONSTRAINT "api_call_stats_hourly_hour_check" CHECK (extract(epoch FROM "hour") % 3600 = 0),
  ADD CONSTRAINT "api_call_stats_hourly_counts_check" CHECK (
    "calls" >= 0 AND "success_count" >= 0 AND "failure_count" >= 0 AND "error_429_count" >= 0
    AND "latency_sum_ms" >= 0),
  ADD CONSTRAINT "api_call_stats_hourly_calls_check" CHECK ("calls" = "success_count" + "failure_count"),
  ADD CONSTRAINT "api_call_stats_hourly_error_429_check" CHECK ("error_429_count" <= "failure_count");

-- dashboard_snapshot: a single row
ALTER TABLE "dashboard_snapshot"
  ADD CONSTRAINT "dashboard_snapshot_single_row_check" CHECK ("id" = 1),
  ADD CONSTRAINT "dashboard_snapshot_data_check" CHECK (jsonb_typeof("data") = 'object');

-- rollup_watermarks
ALTER TABLE "rollup_watermarks"
  ADD CONSTRAINT "rollup_watermarks_name_check" CHECK ("name" ~ '[^[:space:]]'),
  ADD CONSTRAINT "rollup_watermarks_last_id_check" CHECK ("last_id" >= 0);

-- exports
ALTER TABLE "exports"
  ADD CONSTRAINT "exports_kind_check" CHECK ("kind" IN ('verifications', 'audit', 'api_calls', 'groups')),
  ADD CONSTRAINT "exports_status_check" CHECK ("status" IN ('queued', 'running', 'done', 'failed')),
  ADD CONSTRAINT "exports_filters_check" CHECK (jsonb_typeof("filters") = 'object'),
  ADD CONSTRAINT "exports_counts_check" CHECK ("progress_rows" >= 0 AND "rows" >= 0 AND "bytes" >= 0),
  ADD CONSTRAINT "exports_sha256_check" CHECK ("sha256" ~ '^[0-9a-f]{64}$'),
  ADD CONSTRAINT "exports_done_check" CHECK (
    "status" <> 'done' OR ("finished_at" IS NOT NULL AND "rows" IS NOT NULL AND "bytes" IS NOT NULL
      AND "sha256" IS NOT NULL AND "file_path" IS NOT NULL)),
  ADD CONSTRAINT "exports_failed_check" CHECK ("status" <> 'failed' OR ("error" IS NOT NULL AND "finished_at" IS NOT NULL)),
  ADD CONSTRAINT "exports_times_check" CHECK ("finished_at" IS NULL OR "started_at" IS NULL OR "finished_at" >= "started_at");
