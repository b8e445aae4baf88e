// Telegram's send limits as sliding windows: ~30 messages/s per bot, 20/min per group,
// 1/s per private chat. A call over a limit gets 429 with the seconds until the window frees a slot.

export interface LimitSettings {
  enabled: boolean;
  perBotPerSecond: number;
  perGroupPerMinute: number;
  /** The per-group window: Telegram's is a minute; tests may shorten it (with the platform's PACE_GROUP_WINDOW_MS). */
  groupWindowMs: number;
  perPrivateChatPerSecond: number;
}

export const DEFAULT_LIMITS: LimitSettings = {
  enabled: true,
  perBotPerSecond: 30,
  perGroupPerMinute: 20,
  groupWindowMs: 60_000,
  perPrivateChatPerSecond: 1,
};

/** Timestamps of the last `capacity` accepted events (a ring), so a check is O(1). */
class SlidingWindow {
  private readonly times: number[];
  private next = 0;
  private count = 0;

  constructor(
    readonly capacity: number,
    readonly windowMs: number,
  ) {
    this.times = new Array<number>(Math.max(1, capacity)).fill(0);
  }

  /** ms until a slot frees, 0 if one is free now */
  waitMs(now: number): number {
    if (this.capacity <= 0) return this.windowMs;
    if (this.count < this.capacity) return 0;
    const oldest = this.times[this.next]!;
    return Math.max(0, oldest + this.windowMs - now);
  }

  record(now: number): void {
    this.times[this.next] = now;
    this.next = (this.next + 1) % this.times.length;
    if (this.count < this.capacity) this.count++;
  }
}

export class SendLimiter {
  private settings: LimitSettings;
  private botWindow: SlidingWindow;
  private chatWindows = new Map<number, SlidingWindow>();

  constructor(settings: LimitSettings = DEFAULT_LIMITS) {
    this.settings = { ...settings };
    this.botWindow = new SlidingWindow(settings.perBotPerSecond, 1000);
  }

  configure(patch: Partial<LimitSettings>): LimitSettings {
    this.settings = { ...this.settings, ...patch };
    this.botWindow = new SlidingWindow(this.settings.perBotPerSecond, 1000);
    this.chatWindows.clear();
    return { ...this.settings };
  }

  current(): LimitSettings {
    return { ...this.settings };
  }

  /** Returns retry_after in whole seconds (rounded up, at least 1) when over a limit, else records the send. */
  trySend(chatId: number, now = performance.now()): number | undefined {
    if (!this.settings.enabled) return undefined;
    let chatWindow = this.chatWindows.get(chatId);
    if (!chatWindow) {
      chatWindow =
        chatId > 0
          ? new SlidingWindow(this.settings.perPrivateChatPerSecond, 1000)
          : new SlidingWindow(this.settings.perGroupPerMinute, this.settings.groupWindowMs);
      this.chatWindows.set(chatId, chatWindow);
    }
    const waitMs = Math.max(this.botWindow.waitMs(now), chatWindow.waitMs(now));
    if (waitMs > 0) return Math.max(1, Math.ceil(waitMs / 1000));
    this.botWindow.record(now);
    chatWindow.record(now);
    return undefined;
  }
}

/** Methods that count as sending a message. */
export const SEND_METHODS = new Set(['sendMessage', 'copyMessage', 'forwardMessage']);
