// Per-bot pending updates: kept until confirmed by offset, filtered by the bot's allowed_updates,
// with long-poll waiters woken when an update arrives.
import {
  ALL_UPDATE_TYPES,
  DEFAULT_EXCLUDED_UPDATE_TYPES,
  type TgUpdate,
  type UpdatePayloads,
  type UpdateType,
} from './types';

const DEFAULT_ALLOWED = new Set<string>(ALL_UPDATE_TYPES.filter((t) => !DEFAULT_EXCLUDED_UPDATE_TYPES.includes(t)));

export class BotUpdateQueue {
  private pending: TgUpdate[] = [];
  private lastUpdateId = 0;
  private allowed: Set<string> = DEFAULT_ALLOWED;
  private waiters = new Set<() => void>();
  /** true while a getUpdates call is being answered (for 409 on overlap) */
  pollInFlight = false;
  /**
   * A test control, not Telegram behaviour: while held, updates pile up and getUpdates answers none, as if the
   * bot's process were down. What piles up follows Telegram's rule for a bot that is not polling: "Incoming
   * updates are stored on the server until the bot receives them" (Bot API, Getting updates), and an offset still
   * confirms ("An update is considered confirmed as soon as getUpdates is called with an offset higher than its
   * update_id", getUpdates). Released, every waiting long poll is answered at once.
   */
  private held = false;

  /**
   * Telegram semantics: omitted = keep the previous setting; [] = back to the default
   * (everything but chat_member, message_reaction, message_reaction_count); a list = exactly that.
   * The filter applies to updates created after the call, as in Telegram.
   */
  setAllowedUpdates(list: readonly string[] | undefined): void {
    if (list === undefined) return;
    this.allowed = list.length === 0 ? DEFAULT_ALLOWED : new Set(list);
  }

  allowedUpdates(): string[] {
    return [...this.allowed];
  }

  wants(type: UpdateType): boolean {
    return this.allowed.has(type);
  }

  enqueue<K extends UpdateType>(type: K, payload: UpdatePayloads[K]): void {
    if (!this.allowed.has(type)) return;
    this.lastUpdateId += 1;
    this.pending.push({ update_id: this.lastUpdateId, [type]: payload } as TgUpdate);
    if (this.held) return;
    for (const wake of this.waiters) wake();
    this.waiters.clear();
  }

  /**
   * Confirms and reads. offset > 0 drops every update with a smaller id; a negative offset keeps only
   * the last |offset| updates (Telegram: "all previous updates will be forgotten").
   */
  take(offset: number, limit: number): TgUpdate[] {
    if (offset > 0) {
      let drop = 0;
      while (drop < this.pending.length && this.pending[drop]!.update_id < offset) drop++;
      if (drop > 0) this.pending.splice(0, drop);
    } else if (offset < 0) {
      const keep = -offset;
      if (this.pending.length > keep) this.pending.splice(0, this.pending.length - keep);
    }
    return this.held ? [] : this.pending.slice(0, limit);
  }

  /** Holds delivery (see `held`) or releases it. */
  hold(held: boolean): void {
    this.held = held;
    if (!held) this.wakeAll();
  }

  get isHeld(): boolean {
    return this.held;
  }

  pendingCount(): number {
    return this.pending.length;
  }

  peekAll(): TgUpdate[] {
    return [...this.pending];
  }

  dropAll(): void {
    this.pending = [];
  }

  /** Ends every long poll now (used on shutdown). */
  wakeAll(): void {
    for (const wake of [...this.waiters]) wake();
  }

  /** Resolves when an update is enqueued or `ms` passes; the returned cancel function stops waiting. */
  waitForUpdate(ms: number): { promise: Promise<void>; cancel: () => void } {
    let timer: NodeJS.Timeout | undefined;
    let wake: () => void = () => {};
    const promise = new Promise<void>((resolve) => {
      wake = () => {
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve();
      };
      timer = setTimeout(wake, ms);
      this.waiters.add(wake);
    });
    return { promise, cancel: wake };
  }
}
