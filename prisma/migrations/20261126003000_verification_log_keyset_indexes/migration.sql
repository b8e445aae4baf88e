-- The verifications page is a keyset over id (newest first) filtered by bot or group. The (…, created_at)
-- indexes cannot serve ORDER BY id: the planner walked the primary key backwards and filtered, reading
-- rows of every other bot (a small bot among many reads far more than its page). With these, a page reads
-- about its limit + 1 index entries. (No semicolons in comments here: the offline migration engine splits on them.)

-- CreateIndex
CREATE INDEX "verification_log_bot_instance_id_id_idx" ON "verification_log"("bot_instance_id", "id" DESC);

-- CreateIndex
CREATE INDEX "verification_log_chat_id_id_idx" ON "verification_log"("chat_id", "id" DESC);

-- A group filter is chat_id AND bot_instance_id, and a chat id nearly always belongs to one bot. Taking the
-- two as independent, the planner expected 1/20 of the group's rows, chose a BitmapAnd of both indexes and
-- sorted the group's whole history (140 ms on the benchmark data) instead of walking chat_id_id_idx for one page.
CREATE STATISTICS "verification_log_chat_id_bot_instance_id_stat" (dependencies) ON "chat_id", "bot_instance_id" FROM "verification_log";
