// The one place firmware-sim imports `serialport` (STYLE.md: one adapter per I/O library). Writes to a real
// serial device (a USB-serial adapter) or to the device end of a virtual pair made by pty.ts.
//
// Reading and writing use two descriptors on the same device. serialport 13's unix Poller re-arms libuv
// with only the event just asked for (bindings-cpp src/poller.cpp: uv_poll_start(handle, events) instead of
// the accumulated this->events), so a read waiting for 'readable' drops the interest of a write blocked on
// EAGAIN: with a full pty buffer and a HELLO_REQUEST arriving, the write never wakes. One fd per direction
// gives each its own poller.

import { once } from 'node:events';
import { SerialPort } from 'serialport';
import { fail, ok, type Result } from '../../shared/errors.ts';
import type { SimOutput } from '../output.ts';
import { endAndFinish, writeWithBackpressure } from './stream-output.ts';

export const DEFAULT_BAUD = 921_600;

export interface SerialHandle {
  /** Write side: nothing ever reads from it. */
  readonly port: SerialPort;
  /** Read side: bytes from the host (HELLO_REQUEST). */
  onData(listener: (chunk: Uint8Array) => void): void;
  close(): Promise<void>;
}

async function open(path: string, baudRate: number, lock: boolean): Promise<Result<SerialPort>> {
  const port = new SerialPort({ path, baudRate, autoOpen: false, lock });
  const err = await new Promise<Error | null>((resolve) => {
    port.open((e) => {
      resolve(e ?? null);
    });
  });
  if (err !== null) return fail('EDGELOOP_ERR_SERIAL_OPEN', `${path}: ${err.message}`);
  // A port that vanishes (pty unplugged, USB pulled) emits 'error'; without a listener that would crash us.
  port.on('error', () => undefined);
  return ok(port);
}

async function closePort(port: SerialPort, flush: boolean): Promise<void> {
  // end() then 'finish' so every queued byte reaches the OS before the descriptor closes.
  if (flush && port.isOpen) await endAndFinish(port).catch(() => undefined);
  if (!port.isOpen) return;
  const closed = once(port, 'close').catch(() => undefined);
  port.close();
  await closed;
}

/** Opens a serial device for writing, and a second descriptor for reading. Never throws for a missing or busy port. */
export async function openSerial(path: string, baudRate = DEFAULT_BAUD): Promise<Result<SerialHandle>> {
  const w = await open(path, baudRate, true);
  if (!w.ok) return w;
  const writer = w.value;
  let reader: SerialPort | null = null;
  let closing: Promise<void> | null = null;
  return ok({
    port: writer,
    onData(listener) {
      void (async () => {
        // The writer holds the exclusive lock; the reader is the same process, so it opens without one.
        const r = await open(path, baudRate, false);
        if (!r.ok) return;
        if (closing !== null) {
          await closePort(r.value, false);
          return;
        }
        reader = r.value;
        reader.on('data', (chunk: Buffer) => {
          listener(chunk);
        });
      })();
    },
    close() {
      closing ??= (async () => {
        await closePort(writer, true);
        if (reader !== null) await closePort(reader, false);
      })();
      return closing;
    },
  });
}

/** A SimOutput on an existing serial device path. */
export async function serialOutput(path: string, baudRate = DEFAULT_BAUD): Promise<Result<SimOutput>> {
  const r = await openSerial(path, baudRate);
  if (!r.ok) return r;
  const h = r.value;
  return ok({
    kind: 'serial',
    target: path,
    write: (bytes, signal) => writeWithBackpressure(h.port, bytes, signal),
    onData(listener) {
      h.onData(listener);
    },
    close: () => h.close(),
  });
}
