import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import winston from 'winston';
import { describe, expect, it } from 'vitest';
import { consoleFormatFor, createLogger, prettyFormat } from '../../services/core/logger';

const token = '123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(...chunk.toString().split('\n').filter(Boolean));
      done();
    },
  });
  const log = createLogger({ console: false, transports: [new winston.transports.Stream({ stream })] });
  return { log, lines, parsed: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

describe('logger redaction', () => {
  it('removes a token inside a URL inside an error message, including the stack', () => {
    const { log, lines } = capture();
    const err = new Error(`request to https://api.telegram.org/bot${token}/getUpdates failed, reason: ECONNRESET`);
    log.error('poll failed', { err });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain(token);
    expect(lines[0]).not.toContain('AAHdqTcv');
    const line = JSON.parse(lines[0]!);
    expect(line.err.message).toContain('/bot[redacted]/getUpdates');
    expect(line.err.stack).toMatch(/^Error: request to .*\/bot\[redacted\]\/getUpdates/);
  });

  it('removes tokens from the message itself and from nested metadata', () => {
    const { log, lines } = capture();
    log.info(`token is ${token}`, { nested: { list: [`x ${token} y`] } });
    expect(lines.join()).not.toContain(token);
  });

  it('removes passwords, cookies and Authorization headers by key and by assignment', () => {
    const { log, parsed } = capture();
    log.warn('login', {
      password: 'hunter2hunter2',
      headers: { authorization: 'Bearer abc.def', cookie: 'sid=s3cr3t', 'user-agent': 'curl' },
      detail: 'password=hunter2hunter2&email=a@b.c',
    });
    const [line] = parsed();
    expect(JSON.stringify(line)).not.toMatch(/hunter2|abc\.def|s3cr3t/);
    expect(line!.password).toBe('[redacted]');
    expect((line!.headers as Record<string, string>)['user-agent']).toBe('curl');
    expect(line!.detail).toContain('email=a@b.c');
  });

  it('writes JSON lines with a timestamp, level and the child logger ids', () => {
    const { log, parsed } = capture();
    log.child({ botId: 7, jobId: 'u-7-1' }).info('handled');
    const [line] = parsed();
    expect(line).toMatchObject({ level: 'info', message: 'handled', botId: 7, jobId: 'u-7-1' });
    expect(Date.parse(line!.timestamp as string)).not.toBeNaN();
  });

  it('keeps lines that carry no secret unchanged', () => {
    const { log, parsed } = capture();
    log.info('plain', { chatId: -1001234567890, count: 3 });
    expect(parsed()[0]).toMatchObject({ message: 'plain', chatId: -1001234567890, count: 3 });
  });

  it('writes redacted lines to the rotated log file', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nezuko-log-'));
    const log = createLogger({ console: false, dir, name: 'test' });
    log.error(`failed https://api.telegram.org/bot${token}/getMe`);
    await new Promise<void>((resolve) => {
      log.on('finish', () => resolve());
      log.end();
    });
    await new Promise((r) => setTimeout(r, 50));
    const files = readdirSync(dir).filter((f) => f.endsWith('.log'));
    expect(files).toHaveLength(1);
    const content = readFileSync(path.join(dir, files[0]!), 'utf8');
    expect(content).toContain('/bot[redacted]/getMe');
    expect(content).not.toContain(token);
  });
});

describe('error fingerprints', () => {
  const fail = (id: number) => new Error(`chat ${id} not found after ${id * 3} ms`);
  const elsewhere = (id: number) => new Error(`chat ${id} not found after ${id * 3} ms`);

  it('groups repeats of one error from one place, whatever numbers it carries', () => {
    const { log, parsed } = capture();
    log.error('a', { err: fail(1) });
    log.error('b', { err: fail(987654) });
    log.error('c', { err: elsewhere(1) });
    log.error('d', { err: new TypeError('chat 1 not found after 3 ms') });
    const [a, b, c, d] = parsed().map((l) => (l.err as { fingerprint: string }).fingerprint);
    expect(a).toMatch(/^[0-9a-f]{12}$/);
    expect(b).toBe(a);
    expect(c).not.toBe(a);
    expect(d).not.toBe(a);
  });
});

describe('per-bot log files (LOG_PER_BOT)', () => {
  it("writes each bot's lines, and only those, to a file of its own as well", async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'nezuko-perbot-'));
    const log = createLogger({ console: false, dir, name: 'main', perBot: true });
    log.child({ botId: 7 }).info('seven', { note: `token ${token}` });
    log.child({ botId: 8 }).warn('eight');
    log.info('no bot');
    await new Promise<void>((resolve) => {
      log.on('finish', () => resolve());
      log.end();
    });
    await new Promise((r) => setTimeout(r, 100));
    const read = (prefix: string) => {
      const file = readdirSync(dir).find((f) => f.startsWith(prefix) && f.endsWith('.log'));
      return file ? readFileSync(path.join(dir, file), 'utf8') : '';
    };
    expect(read('main-').split('\n').filter(Boolean)).toHaveLength(3);
    const seven = read('bot-7-');
    expect(
      seven
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).message),
    ).toEqual(['seven']);
    expect(seven).not.toContain(token);
    expect(
      read('bot-8-')
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l).message),
    ).toEqual(['eight']);
  });
});

describe('readable console lines (LOG_FORMAT=pretty, or auto at a terminal)', () => {
  function capturePretty() {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk, _enc, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean));
        done();
      },
    });
    const log = createLogger({
      console: false,
      transports: [new winston.transports.Stream({ stream, format: prettyFormat(false) })],
    });
    return { log, lines };
  }

  it("shows time, level, message and key=value fields, with an error's stack on indented lines", () => {
    const { log, lines } = capturePretty();
    log.info('bot started', { botId: 7, roles: ['poller', 'verifier'], note: 'two words' });
    log.error('poll failed', { botId: 7, err: new Error('boom') });
    expect(lines[0]).toMatch(/^\d\d:\d\d:\d\d info  bot started  botId=7 roles=poller,verifier note="two words"$/);
    expect(lines[1]).toMatch(/^\d\d:\d\d:\d\d error poll failed  botId=7 err="Error: boom"$/);
    expect(lines[2]).toMatch(/^ {4}at .*logger\.test\.ts/);
    expect(lines.join('\n')).not.toContain('{');
  });

  it('is redacted like the JSON lines', () => {
    const { log, lines } = capturePretty();
    log.error('poll failed', {
      err: new Error(`request to https://api.telegram.org/bot${token}/getUpdates failed`),
      password: 'hunter2hunter2',
    });
    expect(lines.join('\n')).not.toMatch(/AAHdqTcv|hunter2/);
    expect(lines[0]).toContain('/bot[redacted]/getUpdates');
  });

  it('auto means readable on a terminal and JSON anywhere else', () => {
    expect(consoleFormatFor('auto', { isTTY: true })).toBe('pretty');
    expect(consoleFormatFor('auto', { isTTY: false })).toBe('json');
    expect(consoleFormatFor('auto', {})).toBe('json');
    expect(consoleFormatFor('json', { isTTY: true })).toBe('json');
    expect(consoleFormatFor('pretty', {})).toBe('pretty');
  });
});
