-- group_channel_links.position: where a channel stands in its group's prompt, the order the admin named the
-- channels in /protect (a channel linked later comes after them). Existing links keep 0 and so their old
-- order, by channel id.
-- (No semicolons in comments here: the offline migration engine splits on them.)

-- AlterTable
ALTER TABLE "group_channel_links" ADD COLUMN     "position" INTEGER NOT NULL DEFAULT 0;
