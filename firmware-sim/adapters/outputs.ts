// Turns `--out <path|pty|-|file>` into a SimOutput. A character device is a serial port; anything else is
// a regular file (created if missing). fs.stat decides, because SerialPort.list() is not dependable.

import { statSync } from 'node:fs';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { SimOutput } from '../output.ts';
import { ptyOutput } from './pty.ts';
import { DEFAULT_BAUD, serialOutput } from './serial.ts';
import { openFileOutput, streamOutput } from './stream-output.ts';

export interface OpenOutputOptions {
  readonly baudRate?: number | undefined;
  /** Where `pty` makes its links; a temporary directory when absent. */
  readonly ptyDir?: string | undefined;
  readonly stdout?: NodeJS.WritableStream | undefined;
}

export async function openOutput(spec: string, opts: OpenOutputOptions = {}): Promise<Result<SimOutput>> {
  if (spec === '-') return ok(streamOutput(opts.stdout ?? process.stdout, '-'));
  if (spec === 'pty') return ptyOutput({ dir: opts.ptyDir, baudRate: opts.baudRate ?? DEFAULT_BAUD });
  let isChar = false;
  try {
    const st = statSync(spec);
    if (st.isCharacterDevice()) isChar = true;
    else if (!st.isFile())
      return fail(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `--out ${spec} is neither a serial device nor a regular file`,
      );
  } catch {
    // Missing: a new capture file.
  }
  if (isChar) return serialOutput(spec, opts.baudRate ?? DEFAULT_BAUD);
  return openFileOutput(spec);
}
