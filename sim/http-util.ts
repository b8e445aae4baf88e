// Small helpers for node:http: reading bodies and parsing Bot API parameters from any encoding.
import type { IncomingMessage, ServerResponse } from 'node:http';

export function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () =>
      resolve(chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')),
    );
    req.on('error', reject);
  });
}

export class UnparsableBody extends Error {}

/** Query string and body are merged like Telegram does; body wins. */
export function parseParams(req: IncomingMessage, query: string, body: string): Record<string, unknown> {
  const params: Record<string, unknown> = query ? Object.fromEntries(new URLSearchParams(query)) : {};
  if (body.length === 0) return params;
  const type = req.headers['content-type'] ?? '';
  if (type.startsWith('application/json')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      throw new UnparsableBody("can't parse JSON body");
    }
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) Object.assign(params, parsed);
    return params;
  }
  if (type.startsWith('application/x-www-form-urlencoded')) {
    for (const [key, value] of new URLSearchParams(body)) params[key] = value;
    return params;
  }
  if (type.startsWith('multipart/form-data'))
    throw new UnparsableBody('multipart/form-data is not supported by the simulator');
  return params;
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}

export function sendRaw(res: ServerResponse, status: number, contentType: string, text: string): void {
  res.writeHead(status, { 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
