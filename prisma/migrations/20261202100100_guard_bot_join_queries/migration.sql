-- Guard-bot join-request queries (issue 17, section 1).
-- (No semicolons in comments here: the offline migration engine splits on them.)
--
-- protected_groups.guard_timeout_action: what happens to a join request whose user did not join every channel
-- through our Web App in time: decline it, or queue it for the group's admins.
-- protected_groups.is_guard_bot / guard_checked_at: whether Telegram names this bot the group's guard bot
-- (getChat guard_bot, or a join request that came with a query_id), and when that was last seen. Null = not known yet.
-- verification_log.reason: how a guard-bot join request was decided. verification_stats_hourly counts each reason.

-- AlterTable
ALTER TABLE "protected_groups" ADD COLUMN     "guard_timeout_action" TEXT NOT NULL DEFAULT 'decline',
ADD COLUMN     "is_guard_bot" BOOLEAN,
ADD COLUMN     "guard_checked_at" TIMESTAMPTZ(3);

-- AlterTable
ALTER TABLE "verification_log" ADD COLUMN     "reason" TEXT;

-- AlterTable
ALTER TABLE "verification_stats_hourly" ADD COLUMN     "guard_at_once" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "guard_web_app" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "guard_timeout" INTEGER NOT NULL DEFAULT 0,
ADD COLUMN     "guard_queued" INTEGER NOT NULL DEFAULT 0;

-- Hand-written: CHECK constraints.
ALTER TABLE "protected_groups"
  ADD CONSTRAINT "protected_groups_guard_timeout_action_check" CHECK ("guard_timeout_action" IN ('decline', 'queue'));

ALTER TABLE "verification_log"
  ADD CONSTRAINT "verification_log_reason_check"
    CHECK ("reason" IS NULL OR "reason" IN ('guard_at_once', 'guard_web_app', 'guard_timeout', 'guard_queued'));

ALTER TABLE "verification_stats_hourly"
  ADD CONSTRAINT "verification_stats_hourly_guard_check" CHECK (
    "guard_at_once" >= 0 AND "guard_web_app" >= 0 AND "guard_timeout" >= 0 AND "guard_queued" >= 0
    AND "guard_at_once" + "guard_web_app" + "guard_timeout" + "guard_queued" <= "total");
