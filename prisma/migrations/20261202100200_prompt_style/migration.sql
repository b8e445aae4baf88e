-- Ephemeral prompts and prompts that keep up with join waves (issue 17, sections 2 and 3).
-- (No semicolons in comments here: the offline migration engine splits on them.)
--
-- protected_groups.prompt_style: 'group' shows the prompt in the group (as before), 'ephemeral' sends it only to
-- the muted user (Bot API 10.2+ ephemeral messages), with a group prompt as the fallback.
-- restrictions.prompt_ephemeral_id: the ephemeral prompt shown to the muted user (its id inside the chat), so it is
-- edited and deleted with the ephemeral methods. A group prompt may now name several muted users: their rows share
-- prompt_message_id.

-- AlterTable
ALTER TABLE "protected_groups" ADD COLUMN     "prompt_style" TEXT NOT NULL DEFAULT 'group';

-- AlterTable
ALTER TABLE "restrictions" ADD COLUMN     "prompt_ephemeral_id" INTEGER;

-- Hand-written: CHECK constraints.
ALTER TABLE "protected_groups"
  ADD CONSTRAINT "protected_groups_prompt_style_check" CHECK ("prompt_style" IN ('group', 'ephemeral'));

ALTER TABLE "restrictions"
  ADD CONSTRAINT "restrictions_prompt_ephemeral_id_check" CHECK ("prompt_ephemeral_id" IS NULL OR "prompt_ephemeral_id" > 0);
