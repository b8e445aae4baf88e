import type { Logger } from './logger';

/** Shutdown runs these phases in this order; within a phase, hooks run concurrently. */
export const SHUTDOWN_PHASES = ['readiness', 'http', 'pollers', 'workers', 'buffers', 'redis', 'database'] as const;
export type ShutdownPhase = (typeof SHUTDOWN_PHASES)[number];

type Hook = { name: string; run: () => Promise<void> | void };

export class Lifecycle {
  private readonly hooks = new Map<ShutdownPhase, Hook[]>();
  private stopping: Promise<boolean> | undefined;

  constructor(private readonly log: Logger) {}

  onShutdown(phase: ShutdownPhase, name: string, run: Hook['run']): void {
    const list = this.hooks.get(phase) ?? [];
    list.push({ name, run });
    this.hooks.set(phase, list);
  }

  get isStopping(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Runs every hook phase by phase under one deadline. Resolves true when all finished in time; a hook that
   * throws is logged and the rest still run. Calling it again returns the same promise.
   */
  shutdown(reason: string, deadlineMs: number): Promise<boolean> {
    this.stopping ??= this.run(reason, deadlineMs);
    return this.stopping;
  }

  private async run(reason: string, deadlineMs: number): Promise<boolean> {
    const started = Date.now();
    this.log.info('shutdown started', { reason, deadlineMs });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'deadline'>((resolve) => {
      timer = setTimeout(() => resolve('deadline'), deadlineMs);
    });
    const phases = (async () => {
      for (const phase of SHUTDOWN_PHASES) {
        const hooks = (this.hooks.get(phase) ?? []).reverse();
        await Promise.all(
          hooks.map(async (hook) => {
            const hookStarted = Date.now();
            try {
              await hook.run();
              this.log.info('shutdown step done', { phase, hook: hook.name, ms: Date.now() - hookStarted });
            } catch (err) {
              this.log.error('shutdown hook failed', { phase, hook: hook.name, err });
            }
          }),
        );
      }
      return 'done' as const;
    })();
    const outcome = await Promise.race([phases, deadline]);
    clearTimeout(timer);
    if (outcome === 'deadline') this.log.error('shutdown deadline passed; exiting anyway', { deadlineMs });
    else this.log.info('shutdown complete', { ms: Date.now() - started });
    return outcome === 'done';
  }
}

/** `/ready`: true only while every dependency check passes and the process is not stopping. */
export class Readiness {
  private readonly checks = new Map<string, () => Promise<boolean>>();
  private accepting = true;

  addCheck(name: string, check: () => Promise<boolean>): void {
    this.checks.set(name, check);
  }

  stopAccepting(): void {
    this.accepting = false;
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await check().catch(() => false)] as const),
    );
    const checks = Object.fromEntries(entries);
    return { ready: this.accepting && entries.every(([, ok]) => ok), checks: { ...checks, accepting: this.accepting } };
  }
}
