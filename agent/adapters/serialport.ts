// The agent's only import of the serialport package. Opens a port by path and baud rate and hands back a
// plain Duplex, so everything above it also runs on stream.duplexPair() in tests.
//
// Unplug detection does not rely on serialport alone: with serialport 13 on a pseudo-terminal whose other
// side went away, a read can return 0 bytes forever without an 'error' or 'close' event (a busy loop in the
// binding's unixRead). A USB adapter that is pulled behaves the same way on some kernels. So a watchdog
// checks every `watchIntervalMs` that the path still resolves to the device that was opened, and destroys
// the port when it does not: the reader then sees 'close' and reconnects with backoff.
//
// destroy() must close the descriptor. The stock SerialPort stream has no _destroy, so destroy() ends the
// stream but leaves the fd open and the binding's poller armed: the process then cannot exit (SIGTERM on a
// pty whose other end is open kept the agent alive for a minute), and every reconnect leaked a descriptor.

import { realpathSync, statSync } from 'node:fs';
import type { Duplex } from 'node:stream';
import { SerialPort } from 'serialport';
import { fail, ok, type Result } from '../../shared/errors.ts';

export interface SerialOpenOptions {
  readonly path: string;
  readonly baudRate: number;
  /** How often to check that the device is still there, ms. Default 250. */
  readonly watchIntervalMs?: number;
}

function identity(path: string): string | null {
  try {
    const real = realpathSync(path);
    const st = statSync(real);
    return `${real}:${String(st.rdev)}:${String(st.ino)}`;
  } catch {
    return null;
  }
}

/** A SerialPort whose destroy() discards pending output and closes the descriptor. */
class ClosingSerialPort extends SerialPort {
  override _destroy(error: Error | null, callback: (error: Error | null) => void): void {
    if (!this.isOpen) {
      callback(error);
      return;
    }
    // Discard what the kernel still holds for the device first: close() on a tty waits for queued output
    // to drain, which a peer that does not read never lets happen. The reader has already waited (bounded)
    // for its own writes to finish, so nothing it meant to send is lost here. Errors from flush and close
    // change nothing: the port is going away either way.
    this.flush(() => {
      if (!this.isOpen) {
        callback(error);
        return;
      }
      this.close(() => {
        callback(error);
      });
    });
  }
}

export function openSerialPort(options: SerialOpenOptions): Promise<Result<Duplex>> {
  return new Promise((resolve) => {
    const opened = identity(options.path);
    if (opened === null) {
      resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', `${options.path}: no such device`));
      return;
    }
    const port = new ClosingSerialPort({ path: options.path, baudRate: options.baudRate, autoOpen: false });
    port.open((err) => {
      if (err) {
        resolve(fail('EDGELOOP_ERR_SERIAL_OPEN', `${options.path}: ${err.message}`));
        return;
      }
      const timer = setInterval(() => {
        if (identity(options.path) === opened) return;
        clearInterval(timer);
        port.destroy(new Error(`${options.path} disappeared (device unplugged)`));
      }, options.watchIntervalMs ?? 250);
      timer.unref();
      port.once('close', () => {
        clearInterval(timer);
      });
      resolve(ok(port));
    });
  });
}
