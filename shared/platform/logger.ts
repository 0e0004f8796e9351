// The structured logger every runtime takes: a level, a fixed message and a fields object
// (`log.info('broker link up', { outageMs, backlog })`), one line per event. Text for a person by default
// (`2026-01-01T00:00:00.000Z INFO  broker link up outageMs=36012 backlog=412`), JSON lines for a log
// shipper (`{"ts":"...","level":"info","msg":"broker link up","outageMs":36012,"backlog":412}`).
// Messages stay fixed strings so they can be searched; what varies goes in the fields.

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
export type LogFields = Readonly<Record<string, unknown>>;

export interface Logger {
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every event (e.g. { component: 'outbox' }). */
  child(fields: LogFields): Logger;
}

export interface LogRecord {
  readonly tsMs: number;
  readonly level: LogLevel;
  readonly message: string;
  readonly fields: LogFields;
}

export type LogFormat = 'text' | 'json';

const rank: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40 };
export const logLevels = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];
export const logFormats = ['text', 'json'] as const satisfies readonly LogFormat[];

/** Errors become "message [code]", bigints strings; everything else as JSON has it. */
function plain(v: unknown): unknown {
  if (v instanceof Error) {
    const code = (v as { code?: unknown }).code;
    return typeof code === 'string' || typeof code === 'number' ? `${v.message} [${code}]` : v.message;
  }
  if (typeof v === 'bigint') return v.toString();
  return v;
}

function textValue(v: unknown): string {
  const p = plain(v);
  if (typeof p === 'string') return /^[^\s"=]+$/.test(p) ? p : JSON.stringify(p);
  if (p === undefined) return 'undefined';
  // JSON.stringify gives undefined for these.
  if (typeof p === 'function' || typeof p === 'symbol') return typeof p;
  return JSON.stringify(p);
}

/** One event as one line, without the newline. */
export function formatLogRecord(r: LogRecord, format: LogFormat): string {
  const ts = new Date(r.tsMs).toISOString();
  if (format === 'json') {
    const body: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(r.fields)) body[k] = plain(v);
    // The envelope wins over a field of the same name.
    return JSON.stringify({ ...body, ts, level: r.level, msg: r.message });
  }
  const fields = Object.entries(r.fields)
    .filter(([, v]) => v !== undefined)
    .map(([k, v]) => ` ${k}=${textValue(v)}`)
    .join('');
  return `${ts} ${r.level.toUpperCase().padEnd(5)} ${r.message}${fields}`;
}

type Emit = (level: LogLevel, message: string, fields: LogFields) => void;

function loggerOver(emit: Emit, bound: LogFields): Logger {
  const at =
    (level: LogLevel) =>
    (message: string, fields?: LogFields): void => {
      emit(level, message, fields === undefined ? bound : { ...bound, ...fields });
    };
  return {
    debug: at('debug'),
    info: at('info'),
    warn: at('warn'),
    error: at('error'),
    child: (fields) => loggerOver(emit, { ...bound, ...fields }),
  };
}

export interface LoggerOptions {
  /** Where lines go (process.stderr for a service: stdout may carry data). */
  readonly stream: { write(line: string): unknown };
  /** Default 'text'. */
  readonly format?: LogFormat;
  /** Events below this level are dropped. Default 'info'. */
  readonly level?: LogLevel;
  /** Wall clock for the timestamp. Default Date.now. */
  readonly nowMs?: () => number;
  /** Fields on every event. */
  readonly fields?: LogFields;
}

/** A logger writing one line per event to `stream`. */
export function createLogger(o: LoggerOptions): Logger {
  const format = o.format ?? 'text';
  const min = rank[o.level ?? 'info'];
  const nowMs = o.nowMs ?? Date.now;
  return loggerOver((level, message, fields) => {
    if (rank[level] < min) return;
    o.stream.write(`${formatLogRecord({ tsMs: nowMs(), level, message, fields }, format)}\n`);
  }, o.fields ?? {});
}

/** Discards everything (the default where no logger is passed). */
export const noopLogger: Logger = loggerOver(() => undefined, {});

/** Keeps every event in memory, for tests: `log.records`, `log.find('broker link up')`. */
export class MemoryLogger implements Logger {
  readonly records: LogRecord[] = [];
  readonly #log: Logger;

  constructor(nowMs: () => number = Date.now) {
    this.#log = loggerOver((level, message, fields) => {
      this.records.push({ tsMs: nowMs(), level, message, fields });
    }, {});
  }

  debug(message: string, fields?: LogFields): void {
    this.#log.debug(message, fields);
  }
  info(message: string, fields?: LogFields): void {
    this.#log.info(message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    this.#log.warn(message, fields);
  }
  error(message: string, fields?: LogFields): void {
    this.#log.error(message, fields);
  }
  child(fields: LogFields): Logger {
    return this.#log.child(fields);
  }

  /** Records whose message is `message` (or matches it). */
  find(message: string | RegExp, level?: LogLevel): LogRecord[] {
    return this.records.filter(
      (r) =>
        (typeof message === 'string' ? r.message === message : message.test(r.message)) &&
        (level === undefined || r.level === level),
    );
  }

  /** Every record as a text line, for assertion messages. */
  text(): string {
    return this.records.map((r) => formatLogRecord(r, 'text')).join('\n');
  }
}
