// Corruption on the virtual wire, made exactly observable: the ground truth can promise that each corrupted
// frame costs the receiver exactly one invalid frame and nothing else.

import { cobsDecode } from '../shared/serial/cobs.ts';
import { parseFrame } from '../shared/serial/frames.ts';
import type { Prng } from '../shared/random.ts';

function stillValid(wire: Uint8Array): boolean {
  const decoded = cobsDecode(wire.subarray(0, wire.length - 1));
  return decoded !== null && decoded.length > 0 && parseFrame(decoded).ok;
}

/**
 * Flips nBytes bytes (in place) inside the COBS body of a wire frame, never the trailing delimiter, with
 * XOR masks that never yield 0x00, so no delimiter is created or destroyed. The result is checked to be
 * invalid; CRC-32 makes a miss astronomically rare, but exactness is the point, so it flips again if needed.
 */
export function corruptWireFrame(wire: Uint8Array, nBytes: number, rng: Prng): Uint8Array {
  const bodyLen = wire.length - 1;
  for (let attempt = 0; attempt < 16; attempt++) {
    for (let i = 0; i < nBytes; i++) {
      const pos = rng.int(0, bodyLen - 1);
      const b = wire[pos] as number;
      let mask = rng.int(1, 255);
      if ((b ^ mask) === 0) mask = mask === 255 ? 1 : mask + 1;
      wire[pos] = b ^ mask;
    }
    if (!stillValid(wire)) return wire;
  }
  throw new Error('could not corrupt a frame into an invalid one');
}
