/**
 * Round trips from this process to Redis and PostgreSQL, counted at the socket: every write on a socket to the
 * server's port is one request leaving (ioredis writes a pipeline or a MULTI as one buffer; node-postgres writes
 * a query's parse/bind/execute/sync on a corked socket, counted once), so the count is the round trips the code
 * asks for, whatever the client library. Counted here rather than on the server, which other processes share.
 */
import net from 'node:net';
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import pg from 'pg';

export interface RoundTrips {
  redis: number;
  postgres: number;
}

export function countRoundTrips(ports: { redis: number; postgres: number }): { read(): RoundTrips } {
  const counts: RoundTrips = { redis: 0, postgres: 0 };
  const write = net.Socket.prototype.write;
  // node-postgres writes a query's messages one by one on a corked socket: they leave as one write.
  const countedWhileCorked = new WeakSet<net.Socket>();
  net.Socket.prototype.write = function (this: net.Socket, ...args: unknown[]) {
    const corked = this.writableCorked > 0;
    if (!corked || !countedWhileCorked.has(this)) {
      if (corked) countedWhileCorked.add(this);
      if (this.remotePort === ports.redis) counts.redis++;
      else if (this.remotePort === ports.postgres) counts.postgres++;
    }
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as typeof write;
  const uncork = net.Socket.prototype.uncork;
  net.Socket.prototype.uncork = function (this: net.Socket) {
    countedWhileCorked.delete(this);
    return uncork.call(this);
  };
  return { read: () => ({ ...counts }) };
}

export const portOf = (url: string, fallback: number) => Number(new URL(url).port || fallback);

/** CPU seconds the Redis server has used (server-wide: other clients of the same server count too). */
export async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info('cpu');
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0);
  return field('used_cpu_sys') + field('used_cpu_user');
}

/** CPU seconds the PostgreSQL backends serving `database` have used so far (Linux /proc, same machine). */
export async function postgresCpuSeconds(adminUrl: string, database: string): Promise<number> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE datname = $1', [
      database,
    ]);
    let ticks = 0;
    for (const { pid } of rows) {
      try {
        const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
        ticks += Number(fields[11]) + Number(fields[12]);
      } catch {
        // Ended meanwhile.
      }
    }
    return ticks / 100;
  } finally {
    await client.end();
  }
}

/**
 * How busy the whole machine was (every process, every core) between two moments: /proc/stat sampled every
 * 50 ms while started. A system that keeps the machine near 100 % is bound by the CPU it and its servers
 * spend per update, whatever its own process does.
 */
export function machineCpuSampler() {
  const samples: Array<{ at: number; busy: number; total: number }> = [];
  const read = () => {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    const total = fields.reduce((a, b) => a + b, 0);
    samples.push({ at: Date.now(), busy: total - fields[3]! - fields[4]!, total });
  };
  read();
  const timer = setInterval(read, 50);
  return {
    /** Share of all cores busy between `from` and `to` (ms since epoch), 0..1. */
    busyBetween(from: number, to: number): number {
      read();
      const first = samples.findLast((s) => s.at <= from) ?? samples[0]!;
      const last = samples.find((s) => s.at >= to) ?? samples.at(-1)!;
      return (last.busy - first.busy) / (last.total - first.total || 1);
    },
    stop: () => clearInterval(timer),
  };
}
