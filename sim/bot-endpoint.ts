// HTTP side of the Bot API: token check, injected faults, the method call, the call log.
import { STATUS_CODES, type IncomingMessage, type ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import { findHandler } from './bot-api-10';
import { summarizeParams, type CallRecord } from './call-log';
import { BotApiError, Errors } from './errors';
import type { FaultRule } from './faults';
import { parseParams, readBody, sendJson, sendRaw, UnparsableBody } from './http-util';
import type { BotRuntime, World } from './world';

const wallClockMs = () => performance.timeOrigin + performance.now();

/** nginx's error page, as Telegram's front end returns it when the backend is down. */
function htmlErrorPage(status: number): string {
  const title = `${status} ${STATUS_CODES[status] ?? 'Error'}`;
  return `<html>\r\n<head><title>${title}</title></head>\r\n<body>\r\n<center><h1>${title}</h1></center>\r\n<hr><center>nginx/1.18.0</center>\r\n</body>\r\n</html>\r\n`;
}

export interface PendingTracker {
  /** responses deliberately left unanswered (timeout faults), closed on stop */
  hanging: Set<ServerResponse>;
}

export async function handleBotRequest(
  world: World,
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  query: string,
  tracker: PendingTracker,
): Promise<void> {
  const at = wallClockMs();
  // path = /bot<token>/<method>
  const slash = path.indexOf('/', 4);
  const token = slash === -1 ? path.slice(4) : path.slice(4, slash);
  const methodName = slash === -1 ? '' : path.slice(slash + 1);
  const runtime = world.botsByToken.get(token);
  const body = await readBody(req);
  if (!runtime) return sendJson(res, 401, Errors.unauthorized().toBody());
  if (!methodName) return sendJson(res, 404, Errors.notFound().toBody());
  const found = findHandler(methodName);
  const method = found?.name ?? methodName;

  let params: Record<string, unknown>;
  try {
    params = parseParams(req, query, body);
  } catch (error) {
    const description = error instanceof UnparsableBody ? error.message : 'bad request';
    return respondError(runtime, res, method, at, {}, Errors.badRequest(description));
  }

  if (runtime.bot.revoked) return respondError(runtime, res, method, at, params, Errors.unauthorized());

  const decision = runtime.faults.decide(method);
  if (decision.latencyMs > 0) await sleep(decision.latencyMs);
  if (decision.fault && !decision.fault.afterEffect)
    return applyFault(runtime, req, res, method, at, params, decision.fault, tracker);

  if (!found) return respondError(runtime, res, method, at, params, Errors.notFound());
  try {
    const result = await found.handler({
      world,
      runtime,
      params,
      onClientGone: (callback) => res.once('close', callback),
    });
    if (decision.fault) return applyFault(runtime, req, res, method, at, params, decision.fault, tracker);
    log(runtime, { method, at, params, outcome: 'ok' });
    if (!res.destroyed) sendJson(res, 200, { ok: true, result });
  } catch (error) {
    if (error instanceof BotApiError) return respondError(runtime, res, method, at, params, error);
    const description = error instanceof Error ? error.message : String(error);
    log(runtime, { method, at, params, outcome: 'error', errorCode: 500, description });
    sendJson(res, 500, { ok: false, error_code: 500, description: `Internal Server Error: ${description}` });
  }
}

function respondError(
  runtime: BotRuntime,
  res: ServerResponse,
  method: string,
  at: number,
  params: Record<string, unknown>,
  error: BotApiError,
): void {
  log(runtime, {
    method,
    at,
    params,
    outcome: 'error',
    errorCode: error.errorCode,
    description: error.description,
    ...(error.retryAfter !== undefined ? { retryAfter: error.retryAfter } : {}),
  });
  if (!res.destroyed) sendJson(res, error.errorCode, error.toBody());
}

function log(
  runtime: BotRuntime,
  entry: Omit<CallRecord, 'seq' | 'params'> & { params: Record<string, unknown> },
): void {
  runtime.calls.record({ ...entry, params: summarizeParams(entry.params) });
}

function applyFault(
  runtime: BotRuntime,
  req: IncomingMessage,
  res: ServerResponse,
  method: string,
  at: number,
  params: Record<string, unknown>,
  fault: FaultRule,
  tracker: PendingTracker,
): void {
  const base = {
    method,
    at,
    params,
    outcome: 'fault' as const,
    fault: fault.afterEffect ? `${fault.kind} (after effect)` : fault.kind,
  };
  switch (fault.kind) {
    case 'retry_after': {
      const error = Errors.tooManyRequests(fault.retryAfter);
      log(runtime, { ...base, errorCode: 429, description: error.description, retryAfter: fault.retryAfter });
      return sendJson(res, 429, error.toBody());
    }
    case 'server_error': {
      const description = STATUS_CODES[fault.status] ?? 'Internal Server Error';
      log(runtime, { ...base, errorCode: fault.status, description });
      return sendJson(res, fault.status, { ok: false, error_code: fault.status, description });
    }
    case 'html_error':
      log(runtime, { ...base, errorCode: fault.status });
      return sendRaw(res, fault.status, 'text/html', htmlErrorPage(fault.status));
    case 'invalid_json':
      log(runtime, { ...base, errorCode: 200 });
      return sendRaw(res, 200, 'application/json', '{"ok":true,"result":{"message_id":');
    case 'truncated': {
      // Chunked, as a proxy streams it: half the body, then the connection closes without the final chunk.
      log(runtime, { ...base, errorCode: 200 });
      const body = JSON.stringify({ ok: true, result: runtime.bot.user });
      res.writeHead(200, { 'Content-Type': 'application/json', 'Transfer-Encoding': 'chunked' });
      res.write(body.slice(0, Math.floor(body.length / 2)), () => req.socket.destroy());
      return;
    }
    case 'drop':
      log(runtime, base);
      req.socket.destroy();
      return;
    case 'timeout':
      log(runtime, base);
      tracker.hanging.add(res);
      res.once('close', () => tracker.hanging.delete(res));
      return;
    case 'latency':
      return; // handled before (latency never is the chosen fault)
  }
}
