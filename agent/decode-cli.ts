// `edgeloop decode <file|->`: decodes a captured serial byte stream offline and prints what the agent would
// have seen. Firmware engineers debug boards with it.

import { createReadStream } from 'node:fs';
import type { Readable } from 'node:stream';
import { parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
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
binary frames or CSV lines like the agent does, and prints: frames, samples per sensor, CRC errors, resyncs,
gaps, integrity flags and per-channel statistics.

Options:
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
} as const;

export async function decodeStream(
  input: Readable,
  opts: {
    mode?: 'auto' | 'binary' | 'csv';
    csvChannels?: string[];
    windowMs?: number;
    /** CSV captures carry no arrival times: lines are spaced 1/csvRateHz apart. Default 1000. */
    csvRateHz?: number;
    onWindowLine?: (s: string) => void;
  },
): Promise<{ summary: CaptureSummary; pipeline: IngestPipeline }> {
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
  );
  for await (const chunk of input) pipeline.push(chunk as Buffer);
  pipeline.flush();
  return { summary, pipeline };
}

export const decodeCommand = {
  summary: 'decode a captured serial byte stream',
  help,
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseCliArgs(argv, options, true);
    const path = args.positionals[0];
    if (path === undefined || args.positionals.length > 1)
      throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'give one input file, or - for stdin');
    const mode = (args.values.mode ?? 'auto') as string;
    if (!['auto', 'binary', 'csv'].includes(mode))
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `mode: must be auto, binary or csv, not ${mode}`,
      );
    const windowMs = Number(args.values['window-ms'] ?? 1000);
    if (!Number.isInteger(windowMs) || windowMs < 10)
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'window-ms: an integer of at least 10');
    const input = path === '-' ? process.stdin : createReadStream(path);
    const csv = args.values['csv-channels'] as string | undefined;
    const csvRateHz = Number(args.values['csv-rate-hz'] ?? 1000);
    if (!(csvRateHz > 0 && csvRateHz <= 1e6))
      throw new EdgeloopError('EDGELOOP_ERR_CONFIG_INVALID', 'csv-rate-hz: a rate in Hz above 0');
    try {
      const { summary, pipeline } = await decodeStream(input, {
        mode: mode as 'auto',
        windowMs,
        csvRateHz,
        ...(csv === undefined ? {} : { csvChannels: csv.split(',').map((s) => s.trim()) }),
        ...(args.values.windows === true ? { onWindowLine: (s: string) => io.stdout.write(`${s}\n`) } : {}),
      });
      const stats = pipeline.stats();
      io.stdout.write(
        args.values.json === true
          ? `${JSON.stringify(summary.toJSON(stats), null, 2)}\n`
          : summary.toText(stats),
      );
      return 0;
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (typeof e.code === 'string' && e.code.startsWith('E'))
        throw new EdgeloopError('EDGELOOP_ERR_INPUT_READ', `${path}: ${e.message}`);
      throw err;
    }
  },
};
