import { createHash } from 'node:crypto';
import path from 'node:path';
import winston from 'winston';
import Transport from 'winston-transport';
import DailyRotateFile from 'winston-daily-rotate-file';

/** `<bot id>:<secret>` as @BotFather issues it; it also hides inside Bot API URLs (`/bot<token>/getMe`). */
const BOT_TOKEN_PATTERN = /\d{5,15}:[A-Za-z0-9_-]{30,}/g;
/** Keys whose values are secrets wherever they appear in a log line's metadata. */
const SECRET_KEYS =
  /^(password|passwd|token|bot_?token|secret|authorization|cookie|set-cookie|api_?key|session|x-api-key|token_?encrypted|encryption_?key)$/i;
const SECRET_ASSIGNMENTS =
  /\b(password|passwd|secret|authorization|cookie|token)(["']?\s*[:=]\s*["']?)(bearer\s+)?[^\s"',;&]+/gi;

export const REDACTED = '[redacted]';

/** Removes bot tokens and credentials from a string, wherever they appear. */
export function redactString(value: string): string {
  return value
    .replace(BOT_TOKEN_PATTERN, REDACTED)
    .replace(SECRET_ASSIGNMENTS, (_m, key: string, sep: string) => `${key}${sep}${REDACTED}`);
}

/**
 * The same kind of error from the same place gets the same fingerprint, whatever ids or numbers its message
 * carries, so repeats group together in log search: error class + normalised message + top stack frame.
 */
export function errorFingerprint(err: Error): string {
  const message = redactString(err.message)
    .replace(/"[^"]*"|'[^']*'/g, '…')
    .replace(/\b[0-9a-f]{8,}\b/gi, '#')
    .replace(/-?\d+(\.\d+)?/g, '#');
  const topFrame =
    (err.stack ?? '')
      .split('\n')
      .find((line) => line.trimStart().startsWith('at '))
      ?.trim()
      .replace(/:\d+\)?$/, '') ?? '';
  return createHash('sha1').update(`${err.name}|${message}|${topFrame}`).digest('hex').slice(0, 12);
}

/** A deep copy of `value` with secrets removed; errors become plain objects so their message and stack are kept. */
export function redact(value: unknown, seen = new WeakSet<object>()): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') return value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const plain: Record<string, unknown> = {
      name: value.name,
      message: value.message,
      stack: value.stack,
      fingerprint: errorFingerprint(value),
    };
    for (const [k, v] of Object.entries(value)) plain[k] = v;
    if (value.cause !== undefined) plain.cause = value.cause;
    return redact(plain, seen);
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, seen));
  if (value instanceof Date) return value.toISOString();
  if (Buffer.isBuffer(value)) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = SECRET_KEYS.test(k) ? REDACTED : redact(v, seen);
  return out;
}

/** Winston format: every field of every line passes through `redact`, including the message. */
const redaction = winston.format((info) => {
  for (const key of Object.keys(info)) {
    info[key] = key === 'level' ? info[key] : SECRET_KEYS.test(key) ? REDACTED : redact(info[key]);
  }
  return info;
});

/**
 * LOG_PER_BOT: every line that carries a `botId` is also written to that bot's own rotated file
 * (`bot-<id>-<date>.log`), so one bot's story can be read on its own.
 */
class PerBotFiles extends Transport {
  private readonly files = new Map<number, winston.transport>();

  constructor(private readonly options: { dir: string; maxSize?: string; maxFiles?: number }) {
    super();
  }

  override log(info: Record<string, unknown>, done: () => void): void {
    const botId = info.botId;
    if (typeof botId === 'number' && Number.isInteger(botId)) {
      let file = this.files.get(botId);
      if (!file) {
        file = fileTransport(this.options.dir, `bot-${botId}`, this.options.maxSize, this.options.maxFiles);
        this.files.set(botId, file);
      }
      file.log!(info, () => {});
    }
    done();
  }

  override close(): void {
    for (const file of this.files.values()) file.close?.();
  }
}

/** How the console shows lines: JSON (files, pipes, log collectors) or readable lines for a person at a terminal. */
export type ConsoleFormat = 'json' | 'pretty';

/** LOG_FORMAT=auto: readable when stdout is a terminal, JSON otherwise (containers, pipes, files). */
export function consoleFormatFor(
  setting: 'auto' | ConsoleFormat,
  stream: { isTTY?: boolean } = process.stdout,
): ConsoleFormat {
  return setting === 'auto' ? (stream.isTTY ? 'pretty' : 'json') : setting;
}

const LEVEL_COLOURS: Record<string, string> = {
  error: '\x1b[31m',
  warn: '\x1b[33m',
  info: '\x1b[36m',
  debug: '\x1b[90m',
};
const SKIPPED_KEYS = new Set(['level', 'message', 'timestamp']);

/** A metadata value as a person reads it: bare words stay bare, the rest is JSON. */
const showValue = (value: unknown): string =>
  typeof value === 'string'
    ? /^[^\s"=]+$/.test(value)
      ? value
      : JSON.stringify(value)
    : Array.isArray(value) && value.every((v) => typeof v !== 'object')
      ? value.join(',')
      : JSON.stringify(value);

/**
 * `12:03:04 info  message  key=value …`, local time; an error's stack follows on indented lines. It formats
 * what the redaction already cleaned (the logger's own format runs first), so secrets stay out here too.
 */
export function prettyFormat(colours: boolean): winston.Logform.Format {
  return winston.format.printf((info) => {
    const time = new Date(String(info.timestamp ?? Date.now())).toLocaleTimeString('en-GB', { hour12: false });
    const level = info.level.padEnd(5);
    const shownLevel = colours ? `${LEVEL_COLOURS[info.level] ?? ''}${level}\x1b[0m` : level;
    const fields: string[] = [];
    const stacks: string[] = [];
    for (const [key, value] of Object.entries(info)) {
      if (SKIPPED_KEYS.has(key) || value === undefined) continue;
      const error = value as { name?: unknown; message?: unknown; stack?: unknown };
      if (error && typeof error === 'object' && typeof error.message === 'string' && typeof error.stack === 'string') {
        fields.push(`${key}=${showValue(`${String(error.name ?? 'Error')}: ${error.message}`)}`);
        stacks.push(
          ...error.stack
            .split('\n')
            .slice(1)
            .map((line) => `    ${line.trim()}`),
        );
      } else {
        fields.push(`${key}=${showValue(value)}`);
      }
    }
    const head = `${colours ? '\x1b[90m' : ''}${time}${colours ? '\x1b[0m' : ''} ${shownLevel} ${String(info.message)}${fields.length ? `  ${fields.join(' ')}` : ''}`;
    return [head, ...stacks].join('\n');
  });
}

export interface LoggerOptions {
  level?: string;
  /** Directory for rotated files; omitted = console only. */
  dir?: string;
  maxSize?: string;
  maxFiles?: number;
  /** File name stem, e.g. `nezuko` or `bot-12`. */
  name?: string;
  /** Extra transports (tests capture lines through a stream transport). */
  transports?: winston.transport[];
  console?: boolean;
  /** JSON lines (default) or readable lines on the console; files are always JSON. */
  consoleFormat?: ConsoleFormat;
  /** Also one file per bot (needs `dir`). */
  perBot?: boolean;
}

export const lineFormat = winston.format.combine(winston.format.timestamp(), redaction(), winston.format.json());

export function fileTransport(dir: string, name: string, maxSize = '50m', maxFiles = 10): winston.transport {
  return new DailyRotateFile({
    dirname: path.resolve(dir),
    filename: `${name}-%DATE%.log`,
    datePattern: 'YYYY-MM-DD',
    maxSize,
    maxFiles,
  });
}

/** Lines to the console (JSON or readable) and, when `dir` is given, JSON to daily-rotated files; every line redacted. */
export function createLogger(options: LoggerOptions = {}): winston.Logger {
  const transports: winston.transport[] = [...(options.transports ?? [])];
  if (options.console !== false) {
    const pretty = options.consoleFormat === 'pretty';
    transports.push(
      new winston.transports.Console(
        pretty ? { format: prettyFormat(Boolean(process.stdout.isTTY) && !process.env.NO_COLOR) } : {},
      ),
    );
  }
  if (options.dir)
    transports.push(fileTransport(options.dir, options.name ?? 'nezuko', options.maxSize, options.maxFiles));
  if (options.dir && options.perBot)
    transports.push(new PerBotFiles({ dir: options.dir, maxSize: options.maxSize, maxFiles: options.maxFiles }));
  return winston.createLogger({ level: options.level ?? 'info', format: lineFormat, transports });
}

export type Logger = winston.Logger;

/**
 * The process logger. Console-only until `configureLogger` runs at start-up, so modules can import it
 * freely (and tests stay quiet unless LOG_LEVEL asks otherwise).
 */
export let logger: winston.Logger = createLogger({
  level: process.env.LOG_LEVEL ?? (process.env.VITEST ? 'error' : 'info'),
});

export function configureLogger(options: LoggerOptions): winston.Logger {
  const previous = logger;
  logger = createLogger(options);
  previous.close();
  return logger;
}
