// `edgeloop decode <file|->`: decodes a captured serial byte stream offline and prints what the agent would
// have seen. Firmware engineers debug boards with it.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { PROTOCOL_VERSION } from '../shared/serial/frames.ts';
import { loadDecodeConfig } from './decode-config.ts';
import { formatWindowLine } from './ingest/format.ts';
import { IngestPipeline } from './ingest/pipeline.ts';
import { CaptureSummary } from './ingest/summary.ts';

interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Record<string, string | undefined>;
  readonly signal: AbortSignal;
}

const help = `edgeloop decode: decode a captured serial byte stream and summarise it

Usage: edgeloop decode <file|-> [options]

Reads a capture (e.g. from \`edgeloop sim --out capture.bin\` or \`cat /dev/ttyUSB0 > capture.bin\`), decodes
binary frames or CSV lines like the agent does, and prints: frames, samples per sensor, dropped frames by
code, resyncs, gaps, integrity flags and per-channel statistics.

Exit codes: 0 when something valid was decoded (also when stdout closes early, e.g. \`| head\`); 1 when
nothing was (the message on stderr says what was found: invalid frames by code, or the protocol version the
device speaks); 2 for bad options.

Every option is also a --config file key (camelCase, e.g. csvRateHz) and an EDGELOOP_* variable
(EDGELOOP_CSV_RATE_HZ, or EDGELOOP_DECODE_CSV_RATE_HZ, which wins). Precedence: flag > variable > file >
default.

Options:
  --config <file>        JSON file of options
  --json                 print the summary as JSON
  --mode <m>             auto | binary | csv (default auto)
  --csv-channels <list>  CSV column names, e.g. accel.x,accel.y,accel.z
  --window-ms <ms>       window length for the integrity checks (default 1000)
  --csv-rate-hz <hz>     CSV captures have no arrival times: space lines at this rate (default 1000)
  --windows              also print one line per window
  -h, --help             show this help
`;

const options = {
  json: { type: 'boolean' },
  mode: { type: 'string' },
  'csv-channels': { type: 'string' },
  'window-ms': { type: 'string' },
  windows: { type: 'boolean' },
  'csv-rate-hz': { type: 'string' },
  config: { type: 'string' },
} as const;

export interface DecodeResult {
  readonly summary: CaptureSummary;
  readonly pipeline: IngestPipeline;
  /** Protocol versions of intact frames this decoder does not speak, with how many frames had each. */
  readonly foreignVersions: ReadonlyMap<number, number>;
}

export async function decodeStream(
  input: Readable,
  opts: {
    mode?: 'auto' | 'binary' | 'csv';
    csvChannels?: string[];
    windowMs?: number;
    /** CSV captures carry no arrival times: lines are spaced 1/csvRateHz apart. Default 1000. */
    csvRateHz?: number;
    onWindowLine?: (s: string) => void;
    /** Checked before each chunk: true stops decoding (the reader of stdout went away). */
    stopped?: () => boolean;
  },
): Promise<DecodeResult> {
  const foreignVersions = new Map<number, number>();
  const summary = new CaptureSummary();
  // Capture replay: CSV arrival times are not in the file, so lines are spaced at the rate the user gives.
  const stepUs = 1e6 / (opts.csvRateHz ?? 1000);
  let fakeClock = 0;
  const pipeline = new IngestPipeline(
    {
      mode: opts.mode ?? 'auto',
      windowMs: opts.windowMs ?? 1000,
      ...(opts.csvChannels === undefined ? {} : { csvChannels: opts.csvChannels }),
      nowUs: () => (fakeClock += stepUs),
    },
    (w) => {
      summary.add(w);
      opts.onWindowLine?.(formatWindowLine(w));
    },
    (n) => {
      if (n.kind !== 'invalidFrame' || n.code !== 'EDGELOOP_ERR_PROTOCOL_VERSION') return;
      const v = Number(/protocol v(\d+)/.exec(n.message)?.[1] ?? Number.NaN);
      if (Number.isInteger(v)) foreignVersions.set(v, (foreignVersions.get(v) ?? 0) + 1);
    },
  );
  // Breaking out of for-await destroys the input stream, which is what a stopped decode wants.
  for await (const chunk of input) {
    if (opts.stopped?.() === true) break;
    pipeline.push(chunk as Buffer);
  }
  pipeline.flush();
  return { summary, pipeline, foreignVersions };
}

/** Why nothing valid was decoded, or null when something was. */
export function nothingDecoded(r: DecodeResult): string | null {
  const st = r.pipeline.stats();
  if (st.mode === 'csv') {
    if (st.csv.lines > st.csv.badLines) return null;
    return `no valid CSV lines: ${st.csv.lines} line(s), all malformed (${st.csv.overlongLines} over-long)`;
  }
  if (st.decoder.frames > 0) return null;
  if (st.mode === null) {
    return st.decoder.bytes === 0
      ? 'the input is empty'
      : `no valid frames: ${st.decoder.bytes} byte(s), too few to tell binary from CSV`;
  }
  const byCode = Object.entries(st.decoder.invalid)
    .map(([code, n]) => `${code.replace('EDGELOOP_ERR_', '')} ${n}`)
    .join(', ');
  const versions = [...r.foreignVersions.entries()].map(([v, n]) => `v${v} (${n} frame(s))`).join(', ');
  if (versions !== '' && st.decoder.invalidTotal === st.decoder.invalid.EDGELOOP_ERR_PROTOCOL_VERSION) {
    return `no valid frames: every intact frame speaks serial protocol ${versions}, this decoder supports v${PROTOCOL_VERSION}; update edgeloop or the firmware`;
  }
  return (
    `no valid frames in ${st.decoder.bytes} byte(s): ${st.decoder.invalidTotal} invalid` +
    `${byCode === '' ? '' : ` (${byCode})`}${versions === '' ? '' : `; protocol versions seen: ${versions}`}` +
    '; is this a capture of the serial port, at the right baud rate?'
  );
}

/** A closed stdout (`| head`) is a normal end, not an error. */
function isClosedPipe(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'EPIPE' || code === 'ERR_STREAM_DESTROYED' || code === 'ERR_STREAM_WRITE_AFTER_END';
}

export const decodeCommand = {
  summary: 'decode a captured serial byte stream',
  help,
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseCliArgs(argv, options, true);
    const path = args.positionals[0];
    if (path === undefined || args.positionals.length > 1)
      throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'give one input file, or - for stdin');
    const cfg = loadDecodeConfig(args.values, io.env);
    const input = path === '-' ? process.stdin : createReadStream(path);
    // The reader of stdout may go away (`| head`): stop decoding and end quietly with 0. The listener stays
    // attached, so an EPIPE reported after we return cannot become an uncaught 'error' either.
    const stdout = { closed: false };
    io.stdout.on('error', (err) => {
      if (!isClosedPipe(err)) throw err;
      stdout.closed = true;
    });
    const out = (s: string): void => {
      if (stdout.closed) return;
      try {
        io.stdout.write(s);
      } catch (err) {
        if (!isClosedPipe(err)) throw err;
        stdout.closed = true;
      }
    };
    try {
      const result = await decodeStream(input, {
        mode: cfg.mode,
        windowMs: cfg.windowMs,
        csvRateHz: cfg.csvRateHz,
        stopped: () => stdout.closed,
        ...(cfg.csvChannels === '' ? {} : { csvChannels: cfg.csvChannels.split(',').map((s) => s.trim()) }),
        ...(cfg.windows
          ? {
              onWindowLine: (s: string) => {
                out(`${s}\n`);
              },
            }
          : {}),
      });
      if (stdout.closed) return 0;
      const { summary, pipeline } = result;
      const stats = pipeline.stats();
      out(cfg.json ? `${JSON.stringify(summary.toJSON(stats), null, 2)}\n` : summary.toText(stats));
      const empty = nothingDecoded(result);
      if (empty === null) return 0;
      io.stderr.write(`edgeloop decode: ${path}: ${empty} [EDGELOOP_ERR_DECODE_EMPTY]\n`);
      return 1;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (typeof e.code === 'string' && e.code.startsWith('E'))
        throw new EdgeloopError('EDGELOOP_ERR_INPUT_READ', `${path}: ${e.message}`);
      throw err;
    }
  },
};
