// Where the simulator's bytes go. Each adapter in firmware-sim/adapters/ implements this; runSim (run.ts)
// depends on the interface only, so tests can hand it an in-memory stream.

export type SimOutputKind = 'serial' | 'pty' | 'stream' | 'file';

export interface SimOutput {
  readonly kind: SimOutputKind;
  /** What the agent should open: the pty's port path, the serial device, the file, or "-" for stdout. */
  readonly target: string;
  /** Resolves when the bytes are accepted; waits for 'drain' when the sink pushes back (STYLE.md habit 3). */
  write(bytes: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Bytes the host sends back (HELLO_REQUEST); serial and pty outputs only. */
  onData?(listener: (chunk: Uint8Array) => void): void;
  /** Pull the virtual cable (pty only): the agent's port disappears. */
  unplug?(): Promise<void>;
  /** Plug it back in at the same path. */
  replug?(): Promise<void>;
  /** Flushes and releases the sink; idempotent. */
  close(): Promise<void>;
}
