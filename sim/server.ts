// The simulator's HTTP server: /bot<token>/<method> is the Bot API, /sim/... the control API.
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { handleBotRequest, type PendingTracker } from './bot-endpoint';
import { handleControl } from './control';
import { readBody, sendJson } from './http-util';
import { World, type WorldOptions } from './world';

export interface SimulatorOptions extends WorldOptions {
  /** 0 (default) picks a free port */
  port?: number;
  host?: string;
}

export interface RunningSimulator {
  /** http://host:port */
  url: string;
  /** what Telegraf takes as `telegram.apiRoot` (same as url) */
  apiRoot: string;
  port: number;
  world: World;
  stop(): Promise<void>;
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<RunningSimulator> {
  const world = new World(options);
  const tracker: PendingTracker = { hanging: new Set<ServerResponse>() };
  const server = createServer({ keepAlive: true, keepAliveTimeout: 60_000 }, (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q === -1 ? url : url.slice(0, q);
    const query = q === -1 ? '' : url.slice(q + 1);
    if (path.startsWith('/bot')) {
      handleBotRequest(world, req, res, path, query, tracker).catch((error: unknown) => {
        if (!res.headersSent && !res.destroyed)
          sendJson(res, 500, { ok: false, error_code: 500, description: String(error) });
      });
      return;
    }
    if (path.startsWith('/sim/')) {
      readBody(req)
        .then((text) => {
          let body: unknown;
          try {
            body = text ? JSON.parse(text) : undefined;
          } catch {
            return sendJson(res, 400, { ok: false, error: 'body is not JSON' });
          }
          const answer = handleControl(world, req.method ?? 'GET', path, query, body);
          sendJson(res, answer.status, answer.body);
        })
        .catch((error: unknown) => sendJson(res, 500, { ok: false, error: String(error) }));
      return;
    }
    sendJson(res, 404, { ok: false, error_code: 404, description: 'Not Found' });
  });
  // Long polls can sit for 50 s; the default request timeouts must not cut them.
  server.requestTimeout = 0;
  server.headersTimeout = 65_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = address.address.includes(':') ? `[${address.address}]` : address.address;
  const url = `http://${host}:${address.port}`;

  let stopped: Promise<void> | undefined;
  return {
    url,
    apiRoot: url,
    port: address.port,
    world,
    stop() {
      stopped ??= new Promise<void>((resolve) => {
        // Wake long polls so their timers do not keep the process alive, then cut every connection.
        for (const runtime of world.botsById.values()) runtime.updates.wakeAll();
        for (const res of tracker.hanging) res.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      });
      return stopped;
    },
  };
}
