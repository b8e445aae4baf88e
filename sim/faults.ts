// Injected faults, per bot and per method, fired with a probability and/or a fixed number of times.
import { z } from 'zod';

export const FAULT_KINDS = [
  'retry_after', // 429 Too Many Requests with parameters.retry_after
  'server_error', // 5xx with a Telegram-style JSON body
  'html_error', // text/html error page (as nginx in front of Telegram, or a proxy on the way, sends)
  'invalid_json', // 200 with a body that is not JSON
  'truncated', // 200 whose chunked JSON body stops midway: the connection closes before the last chunk
  'latency', // delay the answer by latencyMs, then answer normally (combines with other faults)
  'drop', // destroy the socket without answering
  'timeout', // never answer; the client has to give up
] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export const faultRuleSchema = z.object({
  kind: z.enum(FAULT_KINDS),
  /** Bot API method name, or '*' for all (default) */
  method: z.string().default('*'),
  /** chance per matching call (default 1) */
  probability: z.number().min(0).max(1).default(1),
  /** fire at most this many times, then the rule is removed; omitted = unlimited */
  count: z.number().int().positive().optional(),
  retryAfter: z.number().int().positive().default(5),
  /** server_error: 500–599; html_error: any status a proxy may put on its page (e.g. 403, 200 for a captive portal) */
  status: z.number().int().min(200).max(599).default(502),
  latencyMs: z.number().int().nonnegative().default(200),
  /** true: the call takes effect first and only the answer is lost or replaced (e.g. a sent message whose reply drops) */
  afterEffect: z.boolean().default(false),
});
export type FaultRuleInput = z.input<typeof faultRuleSchema>;
// (The 5xx-only rule for server_error is checked where rules are added: a refined schema could not be extended.)
export type FaultRule = z.output<typeof faultRuleSchema>;

/** A rule, validated: a Telegram-style `server_error` is always a 5xx. */
export function parseRule(input: FaultRuleInput): FaultRule {
  const rule = faultRuleSchema.parse(input);
  if (rule.kind === 'server_error' && rule.status < 500)
    throw new z.ZodError([
      { code: 'custom', path: ['status'], message: 'server_error needs a 5xx status', input: rule.status },
    ]);
  return rule;
}

/** Small seeded PRNG (mulberry32) so probabilistic faults are reproducible. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface FaultDecision {
  latencyMs: number;
  fault?: FaultRule;
}

export class FaultInjector {
  private rules: FaultRule[] = [];

  constructor(private readonly random: () => number) {}

  set(rules: FaultRuleInput[]): FaultRule[] {
    this.rules = rules.map(parseRule);
    return this.list();
  }

  add(rule: FaultRuleInput): FaultRule[] {
    this.rules.push(parseRule(rule));
    return this.list();
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRule[] {
    return this.rules.map((rule) => ({ ...rule }));
  }

  /** Decides what happens to one call. Latency rules add up; the first matching non-latency rule wins. */
  decide(method: string): FaultDecision {
    const decision: FaultDecision = { latencyMs: 0 };
    if (this.rules.length === 0) return decision;
    for (let i = 0; i < this.rules.length; i++) {
      const rule = this.rules[i]!;
      if (rule.method !== '*' && rule.method !== method) continue;
      if (rule.kind !== 'latency' && decision.fault) continue;
      if (rule.probability < 1 && this.random() >= rule.probability) continue;
      if (rule.kind === 'latency') decision.latencyMs += rule.latencyMs;
      else decision.fault = rule;
      if (rule.count !== undefined) {
        rule.count -= 1;
        if (rule.count <= 0) this.rules.splice(i--, 1);
      }
    }
    return decision;
  }
}
