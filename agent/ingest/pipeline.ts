// Bytes in, windows out: detects binary or CSV mode, decodes frames or lines, accounts for loss, and
// windows the samples with their integrity summary. Pure with respect to I/O: the serial reader feeds it
// bytes, and `edgeloop decode` feeds it a file.

import type { ErrorCode } from '../../shared/errors.ts';
import type { SampleBlock, Window } from '../../shared/samples.ts';
import type { DeviceDescriptor } from '../../shared/sensors.ts';
import { FrameDecoder, type DecoderCounters } from '../../shared/serial/decoder.ts';
import { detectStreamMode, LineSplitter, type StreamMode } from '../../shared/serial/csv.ts';
import { DeviceStream, type StreamCounters } from '../../shared/ingest/device-stream.ts';
import { CsvStream, type CsvEvent } from '../../shared/ingest/csv-stream.ts';
import { Windower } from '../../shared/windowing/windower.ts';

export interface IngestOptions {
  /** 'auto' detects from the first bytes. Default 'auto'. */
  readonly mode?: 'auto' | StreamMode;
  /** Window length and hop, ms. Defaults 1000 and 1000. */
  readonly windowMs?: number;
  readonly hopMs?: number;
  /** Column names for CSV mode, e.g. ["accel.x","accel.y","accel.z"]. */
  readonly csvChannels?: readonly string[];
  /** Device id for CSV mode (binary devices name themselves in HELLO). */
  readonly deviceId?: string;
  /**
   * CSV line times in µs, read once per line: for replaying a capture that has no arrival times (a fake
   * clock stepping at the line rate). Absent (live), the host clock is read once per chunk, because the
   * lines of one read arrived together.
   */
  readonly nowUs?: () => number;
  /** Emit (and count) at most this many windows; the rest are dropped (`--max-windows`). 0: no limit. */
  readonly maxWindows?: number;
}

export type IngestNotice =
  | { readonly kind: 'mode'; readonly mode: StreamMode }
  | {
      readonly kind: 'hello';
      readonly device: DeviceDescriptor;
      readonly reboot: boolean;
      readonly first: boolean;
    }
  | { readonly kind: 'invalidFrame'; readonly code: ErrorCode; readonly message: string }
  | { readonly kind: 'frameGap'; readonly missingFrames: number }
  | { readonly kind: 'sampleGap'; readonly sensor: string; readonly lost: number }
  | { readonly kind: 'dropped'; readonly code: ErrorCode; readonly reason: string }
  | { readonly kind: 'status'; readonly code: number; readonly severity: string; readonly message: string };

export interface IngestStats {
  readonly mode: StreamMode | null;
  readonly decoder: Readonly<DecoderCounters>;
  readonly stream: Readonly<StreamCounters>;
  readonly csv: {
    readonly lines: number;
    readonly badLines: number;
    readonly overlongLines: number;
    readonly rateHz: number;
  };
  readonly windows: number;
}

const DETECT_BYTES = 64;

export class IngestPipeline {
  private mode: StreamMode | null;
  private head: Uint8Array[] = [];
  private headBytes = 0;
  readonly decoder = new FrameDecoder();
  readonly stream = new DeviceStream();
  private csv: CsvStream | undefined;
  private readonly lines = new LineSplitter();
  private windower: Windower | undefined;
  private windows = 0;

  constructor(
    private readonly options: IngestOptions,
    private readonly onWindow: (w: Window) => void,
    private readonly onNotice: (n: IngestNotice) => void = () => undefined,
  ) {
    this.mode = options.mode === undefined || options.mode === 'auto' ? null : options.mode;
    if (this.mode !== null) this.enterMode(this.mode);
  }

  get detectedMode(): StreamMode | null {
    return this.mode;
  }

  get device(): DeviceDescriptor | undefined {
    return this.mode === 'csv' ? this.csv?.device : this.stream.descriptor;
  }

  push(chunk: Uint8Array): void {
    if (this.mode === null) {
      this.head.push(chunk);
      this.headBytes += chunk.length;
      const joined = Buffer.concat(this.head);
      const mode = detectStreamMode(joined, DETECT_BYTES);
      if (mode === null) return;
      this.head = [];
      this.headBytes = 0;
      this.enterMode(mode);
      this.feed(joined);
      return;
    }
    this.feed(chunk);
  }

  /** The port was reopened: a partial frame or line from before is meaningless now. */
  connectionReset(): void {
    this.decoder.reset();
    this.lines.reset();
  }

  /** Closes every open window (end of a capture, or shutdown). */
  flush(): void {
    this.csv?.finish((e) => {
      if (e.kind === 'block') this.onBlock(e.block);
      else this.onNotice(e);
    });
    if (this.windower !== undefined) this.emitWindows(this.windower.flush());
  }

  stats(): IngestStats {
    return {
      mode: this.mode,
      decoder: this.decoder.counters,
      stream: this.stream.counters,
      csv: {
        lines: this.csv?.counters.lines ?? 0,
        badLines: this.csv?.counters.badLines ?? 0,
        overlongLines: this.lines.overlong,
        rateHz: this.csv?.measuredRateHz ?? 0,
      },
      windows: this.windows,
    };
  }

  private enterMode(mode: StreamMode): void {
    this.mode = mode;
    if (mode === 'csv') {
      const channels = this.options.csvChannels;
      if (channels === undefined || channels.length === 0) {
        this.onNotice({
          kind: 'dropped',
          code: 'EDGELOOP_ERR_CSV_LINE',
          reason: 'CSV input but no --csv-channels configured',
        });
      }
      this.csv = new CsvStream({
        deviceId: this.options.deviceId ?? 'csv-device',
        channels: channels ?? ['value'],
      });
      this.windower = this.newWindower(this.csv.device);
    }
    this.onNotice({ kind: 'mode', mode });
  }

  private newWindower(device: DeviceDescriptor): Windower {
    return new Windower({
      deviceId: device.deviceId,
      bootId: device.bootId,
      sensors: device.sensors,
      windowMs: this.options.windowMs ?? 1000,
      hopMs: this.options.hopMs ?? this.options.windowMs ?? 1000,
    });
  }

  private feed(chunk: Uint8Array): void {
    if (this.mode === 'csv') {
      // One arrival time per chunk: its lines arrived together (one read), which is what lets the CSV
      // stream tell a transport burst from the board's own timing.
      const now = this.options.nowUs ?? (() => performance.now() * 1000);
      const csv = this.csv;
      if (csv === undefined) return;
      const emit = (e: CsvEvent): void => {
        if (e.kind === 'block') this.onBlock(e.block);
        else this.onNotice(e);
      };
      let arrivalUs: number | undefined;
      this.lines.push(chunk, (line) => {
        arrivalUs = this.options.nowUs === undefined ? (arrivalUs ?? now()) : now();
        csv.push(line, arrivalUs, emit);
      });
      csv.endBurst(emit);
      return;
    }
    this.decoder.push(chunk, (e) => {
      if (!e.ok) {
        this.onNotice({ kind: 'invalidFrame', code: e.code, message: e.message });
        return;
      }
      this.stream.push(e.frame, (s) => {
        switch (s.kind) {
          case 'block':
            this.onBlock(s.block);
            break;
          case 'hello':
            if (s.first || s.reboot) {
              this.flush();
              this.windower = this.newWindower(s.device);
            }
            this.onNotice(s);
            break;
          case 'frameGap':
            this.onNotice({ kind: 'frameGap', missingFrames: s.missingFrames });
            break;
          case 'sampleGap':
            this.onNotice({ kind: 'sampleGap', sensor: s.sensor, lost: s.lost });
            break;
          case 'status':
            this.onNotice({
              kind: 'status',
              code: s.status.code,
              severity: s.status.severity,
              message: s.status.message,
            });
            break;
          case 'dropped':
            this.onNotice(s);
            break;
        }
      });
    });
  }

  private onBlock(block: SampleBlock): void {
    if (this.windower !== undefined) this.emitWindows(this.windower.push(block));
  }

  private emitWindows(ws: readonly Window[]): void {
    const max = this.options.maxWindows ?? 0;
    for (const w of ws) {
      // One read can close several windows and the final flush one more: "stop after n" means n.
      if (max > 0 && this.windows >= max) return;
      this.windows++;
      this.onWindow(w);
    }
  }
}
