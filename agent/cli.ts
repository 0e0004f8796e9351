// `edgeloop agent`: the device agent. This issue's scope is ingestion: it reads the serial port, decodes,
// checks integrity and windows, and prints one line per window (or JSON with --json). Later issues add
// inference, the outbox and MQTT publishing behind the same command.

import { parseCliArgs } from '../shared/config.ts';
import { openSerialPort } from './adapters/serialport.ts';
import { loadAgentConfig } from './config.ts';
import { formatWindowLine, windowSummary } from './ingest/format.ts';
import { IngestPipeline, type IngestNotice } from './ingest/pipeline.ts';
import { SerialReader } from './ingest/serial-reader.ts';

interface CliIO {
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  readonly env: Record<string, string | undefined>;
  readonly signal: AbortSignal;
}

const help = `edgeloop agent: read a sensor board over serial, check and window its samples

Usage: edgeloop agent --serial <path> [options]

Options (flag / EDGELOOP_* variable / config-file key):
  --serial <path>        serial device path, e.g. /dev/ttyUSB0 (required)      EDGELOOP_SERIAL
  --baud <n>             line rate in baud (default 921600)                     EDGELOOP_BAUD
  --mode <m>             auto | binary | csv (default auto: detected from data) EDGELOOP_MODE
  --csv-channels <list>  CSV column names, e.g. accel.x,accel.y,accel.z         EDGELOOP_CSV_CHANNELS
  --device-id <id>       device id for CSV boards (binary boards send theirs)  EDGELOOP_DEVICE_ID
  --window-ms <ms>       window length in ms (default 1000)                     EDGELOOP_WINDOW_MS
  --hop-ms <ms>          window hop in ms (default: the window length)          EDGELOOP_HOP_MS
  --json                 print each window as a JSON line                       EDGELOOP_JSON
  --max-windows <n>      stop after n windows (default 0: run until Ctrl-C)     EDGELOOP_MAX_WINDOWS
  --config <file>        JSON config file with the keys above in camelCase
  -h, --help             show this help

The port is reopened with jittered backoff when it disappears (unplug), and the device is asked for its
HELLO again. Loss is counted from frame sequence and per-sensor sample index gaps. Status and a final
summary go to stderr; windows go to stdout.
`;

const options = {
  serial: { type: 'string' },
  baud: { type: 'string' },
  mode: { type: 'string' },
  'csv-channels': { type: 'string' },
  'device-id': { type: 'string' },
  'window-ms': { type: 'string' },
  'hop-ms': { type: 'string' },
  json: { type: 'boolean' },
  'max-windows': { type: 'string' },
  config: { type: 'string' },
} as const;

const camel = (k: string): string => k.replace(/-([a-z])/g, (_, c: string) => c.toUpperCase());

export function noticeLine(n: IngestNotice): string | null {
  switch (n.kind) {
    case 'mode':
      return `stream mode: ${n.mode}`;
    case 'hello':
      return `${n.first ? 'device' : n.reboot ? 'device rebooted' : 'device re-announced'}: ${n.device.deviceId} firmware ${n.device.firmwareVersion}, protocol v${n.device.protocolVersion}, sensors ${n.device.sensors.map((s) => `${s.name}@${s.rateHz}Hz`).join(' ')}`;
    case 'frameGap':
      return `frame gap: ${n.missingFrames} frame(s) missing`;
    case 'sampleGap':
      return `sample gap: ${n.sensor} lost ${n.lost} sample(s)`;
    case 'invalidFrame':
      return null;
    case 'dropped':
      return `dropped: ${n.reason} [${n.code}]`;
    case 'status':
      return n.code === 0 ? null : `device status ${n.code} (${n.severity}): ${n.message}`;
  }
}

export const agentCommand = {
  summary: 'run the device agent',
  help,
  async run(argv: string[], io: CliIO): Promise<number> {
    const args = parseCliArgs(argv, options, false);
    const flags: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(args.values))
      if (k !== 'config' && v !== undefined) flags[camel(k)] = v;
    const config = loadAgentConfig(flags, io.env, args.values.config as string | undefined);
    const log = (s: string): void => {
      io.stderr.write(`${new Date().toISOString()} ${s}\n`);
    };
    let windows = 0;
    let invalidLogged = false;
    const done = new AbortController();
    const pipeline = new IngestPipeline(
      {
        mode: config.mode,
        windowMs: config.windowMs,
        hopMs: config.hopMs,
        ...(config.csvChannels === ''
          ? {}
          : { csvChannels: config.csvChannels.split(',').map((s) => s.trim()) }),
        ...(config.deviceId === '' ? {} : { deviceId: config.deviceId }),
      },
      (w) => {
        windows++;
        io.stdout.write(config.json ? `${JSON.stringify(windowSummary(w))}\n` : `${formatWindowLine(w)}\n`);
        if (config.maxWindows > 0 && windows >= config.maxWindows) done.abort();
      },
      (n) => {
        if (n.kind === 'invalidFrame') {
          // Log the first invalid frame and then only count (STYLE.md habit 4: log once when dropping starts).
          if (!invalidLogged)
            log(`invalid frame: ${n.message} [${n.code}] (further invalid frames are counted, not logged)`);
          invalidLogged = true;
          return;
        }
        const line = noticeLine(n);
        if (line !== null) log(line);
      },
    );
    const reader = new SerialReader({
      open: () => openSerialPort({ path: config.serial, baudRate: config.baud }),
      pipeline,
      onState: (s) => {
        if (s.kind === 'connected') log(`serial ${config.serial} open at ${config.baud} baud`);
        else if (s.kind === 'disconnected')
          log(`serial ${config.serial} lost (${s.reason}) [EDGELOOP_ERR_SERIAL_LOST]; reconnecting`);
        else log(`${s.message} [${s.code}]; retrying in ${s.retryInMs} ms`);
      },
    });
    reader.start();
    await new Promise<void>((resolve) => {
      if (io.signal.aborted) resolve();
      io.signal.addEventListener('abort', () => {
        resolve();
      });
      done.signal.addEventListener('abort', () => {
        resolve();
      });
    });
    await reader.close();
    const st = pipeline.stats();
    const lost = Object.entries(st.stream.samplesLost)
      .map(([k, v]) => `${k}=${v}`)
      .join(' ');
    log(
      `summary: windows ${st.windows}, frames ${st.decoder.frames}, invalid frames ${st.decoder.invalidTotal}, resyncs ${st.decoder.resyncs}, frames missing ${st.stream.framesMissing}, samples lost ${st.stream.samplesLostTotal}${lost === '' ? '' : ` (${lost})`}, reconnects ${Math.max(0, reader.stats.connects - 1)}`,
    );
    return 0;
  },
};
