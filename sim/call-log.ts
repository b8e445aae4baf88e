// Per-bot record of every Bot API call: a capped ring of recent calls plus counters that never wrap,
// so tests can check timing (e.g. nothing called before retry_after elapsed) and totals cheaply.

export type CallOutcome = 'ok' | 'error' | 'fault';

export interface CallRecord {
  seq: number;
  method: string;
  /** wall-clock ms with sub-ms precision (performance.timeOrigin + performance.now()) */
  at: number;
  params: Record<string, unknown>;
  outcome: CallOutcome;
  /** HTTP-level error code for errors (400, 401, 409, 429, 5xx …) */
  errorCode?: number;
  description?: string;
  retryAfter?: number;
  /** for faults: which kind fired */
  fault?: string;
}

export interface CallCounters {
  total: number;
  ok: number;
  errors: number;
  faults: number;
  conflicts409: number;
  tooManyRequests429: number;
  byMethod: Record<string, { total: number; ok: number; errors: number; faults: number }>;
}

const PARAM_SUMMARY_KEYS = [
  'chat_id',
  'user_id',
  'message_id',
  'offset',
  'limit',
  'timeout',
  'until_date',
  'callback_query_id',
  'text',
  // Bot API 10.x: ephemeral messages and join-request queries
  'receiver_user_id',
  'ephemeral_message_id',
  'ephemeral_message_parameters',
  'chat_join_request_query_id',
  'result',
];

export function summarizeParams(params: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of PARAM_SUMMARY_KEYS) {
    const value = params[key];
    if (value === undefined) continue;
    out[key] = typeof value === 'string' && value.length > 64 ? `${value.slice(0, 64)}…` : value;
  }
  return out;
}

export class CallLog {
  private ring: CallRecord[] = [];
  private next = 0;
  private seq = 0;
  counters: CallCounters = emptyCounters();

  constructor(private readonly capacity = 10_000) {}

  record(entry: Omit<CallRecord, 'seq'>): void {
    const full = { seq: ++this.seq, ...entry };
    if (this.ring.length < this.capacity) this.ring.push(full);
    else {
      this.ring[this.next] = full;
      this.next = (this.next + 1) % this.capacity;
    }
    const c = this.counters;
    c.total++;
    const byMethod = (c.byMethod[entry.method] ??= { total: 0, ok: 0, errors: 0, faults: 0 });
    byMethod.total++;
    if (entry.outcome === 'ok') {
      c.ok++;
      byMethod.ok++;
    } else if (entry.outcome === 'error') {
      c.errors++;
      byMethod.errors++;
    } else {
      c.faults++;
      byMethod.faults++;
    }
    if (entry.errorCode === 409) c.conflicts409++;
    if (entry.errorCode === 429) c.tooManyRequests429++;
  }

  /** Oldest first. */
  list(filter: { method?: string; sinceSeq?: number } = {}): CallRecord[] {
    const ordered =
      this.ring.length < this.capacity ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.filter(
      (r) =>
        (filter.method === undefined || r.method === filter.method) &&
        (filter.sinceSeq === undefined || r.seq > filter.sinceSeq),
    );
  }

  clear(): void {
    this.ring = [];
    this.next = 0;
    this.counters = emptyCounters();
  }
}

function emptyCounters(): CallCounters {
  return { total: 0, ok: 0, errors: 0, faults: 0, conflicts409: 0, tooManyRequests429: 0, byMethod: {} };
}
