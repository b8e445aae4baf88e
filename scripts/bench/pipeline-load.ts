/**
 * The load of bench:pipeline, in a process of its own: a generator sharing the event loop of the system under
 * test would add its own stalls to that system's latency. The parent sends the world and each phase over
 * IPC; the child drives the simulator and answers with the joins it made (user, group, time) and the number
 * of updates they produce.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { SimClient } from '../../sim/client';

export interface LoadGroup {
  chatId: number;
  users: number[];
}
type Command =
  | { type: 'init'; simUrl: string; groups: LoadGroup[] }
  | { type: 'burst'; events: number }
  | { type: 'steady'; updatesPerSecond: number; seconds: number };
interface PhaseResult {
  updates: number;
  joins: Array<[key: string, at: number]>;
}

export interface LoadGenerator {
  /** Updates produced so far (a join or a leave is two, a message one). */
  readonly updates: number;
  /** Join times by `chatId:userId`, as the simulator was asked to add the user. */
  readonly joins: Map<string, number[]>;
  /** Events as fast as the simulator takes them, 32 at a time. */
  burst(events: number): Promise<void>;
  /** Events at a steady rate of `updatesPerSecond` for `seconds`. */
  steady(updatesPerSecond: number, seconds: number): Promise<void>;
  stop(): void;
}

export async function startLoadGenerator(simUrl: string, groups: LoadGroup[]): Promise<LoadGenerator> {
  const child: ChildProcess = fork(fileURLToPath(import.meta.url), ['--load-generator'], {
    execArgv: ['--import', 'tsx'],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const joins = new Map<string, number[]>();
  let updates = 0;
  const run = (command: Command) =>
    new Promise<void>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`load generator exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (result: PhaseResult) => {
        child.off('exit', onExit);
        updates += result.updates;
        for (const [key, at] of result.joins) joins.set(key, [...(joins.get(key) ?? []), at]);
        resolve();
      });
      child.send(command);
    });
  await run({ type: 'init', simUrl, groups });
  return {
    get updates() {
      return updates;
    },
    joins,
    burst: (events) => run({ type: 'burst', events }),
    steady: (updatesPerSecond, seconds) => run({ type: 'steady', updatesPerSecond, seconds }),
    stop: () => void child.kill(),
  };
}

/** Mixed events: a user not in the group joins; one in it leaves (60 %) or writes (40 %). */
function eventSource(sim: SimClient, groups: LoadGroup[]) {
  const inGroup = new Map(groups.map((g) => [g.chatId, new Set<number>()]));
  const result: PhaseResult = { updates: 0, joins: [] };
  const next = async () => {
    const group = groups[Math.floor(Math.random() * groups.length)]!;
    const members = inGroup.get(group.chatId)!;
    const userId = group.users[Math.floor(Math.random() * group.users.length)]!;
    if (!members.has(userId)) {
      members.add(userId);
      result.joins.push([`${group.chatId}:${userId}`, Date.now()]);
      await sim.join(group.chatId, userId);
      result.updates += 2; // chat_member + new_chat_members
    } else if (Math.random() < 0.6) {
      members.delete(userId);
      await sim.leave(group.chatId, userId);
      result.updates += 2;
    } else {
      await sim.sendMessage(group.chatId, { fromId: userId, text: 'hello' }).catch(() => {}); // muted users cannot write
      result.updates += 1;
    }
  };
  /** What happened since the last call. */
  const take = (): PhaseResult => {
    const out = { updates: result.updates, joins: result.joins };
    result.updates = 0;
    result.joins = [];
    return out;
  };
  return { next, take };
}

async function burst(source: ReturnType<typeof eventSource>, events: number) {
  let left = events;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (left-- > 0) await source.next();
    }),
  );
}

async function steady(source: ReturnType<typeof eventSource>, updatesPerSecond: number, seconds: number) {
  const eventsPerSecond = updatesPerSecond / 1.8; // a join or leave is 2 updates, a message 1
  const started = Date.now();
  const inflight = new Set<Promise<void>>();
  let sent = 0;
  while (Date.now() - started < seconds * 1000) {
    const due = Math.floor(((Date.now() - started) / 1000) * eventsPerSecond);
    while (sent < due) {
      sent++;
      const p = source.next().finally(() => inflight.delete(p));
      inflight.add(p);
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(inflight);
}

if (process.argv.includes('--load-generator') && process.send) {
  let source: ReturnType<typeof eventSource> | undefined;
  process.on('message', async (command: Command) => {
    if (command.type === 'init') source = eventSource(new SimClient(command.simUrl), command.groups);
    else if (command.type === 'burst') await burst(source!, command.events);
    else await steady(source!, command.updatesPerSecond, command.seconds);
    process.send!(source!.take());
  });
  process.on('disconnect', () => process.exit(0));
}
