/**
 * The restrictions of a group that hold now, for counts (/status, the API): open, and not a timed mute past its
 * end (Telegram has lifted that one already; its row is closed as `expired` by its job within moments).
 */
export const heldRestrictions = (groupId: number) => ({
  groupId,
  liftedAt: null,
  OR: [{ mutedUntil: null }, { mutedUntil: { gt: new Date() } }],
});
