// The agent's only import of the serialport package. Opens a port by path and baud rate and hands back a
// plain Duplex, so everything above it also runs on stream.duplexPair() in tests.

import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { fail, ok, type Result } from '../../shared/errors.ts';

export interface SerialOpenOptions {
  readonly path: string;
  readonly baudRate: number;
}

export function openSerialPort(options: SerialOpenOptions): Promise<Result<Duplex>> {
  return new Promise((resolve) => {
    const port = new SerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false });
    port.open((err) => {
      if (err) resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', `${options.path}: ${err.message}`));
      else resolve(ok(port));
    });
  });
}
