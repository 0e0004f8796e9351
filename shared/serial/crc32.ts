// CRC-32/ISO-HDLC (the CRC of zlib, Ethernet and PNG): reflected polynomial 0xEDB88320 (0x04C11DB7
// normal form), init 0xFFFFFFFF, final XOR 0xFFFFFFFF. Check value: crc32("123456789") = 0xCBF43926.
// Chosen because every MCU family has a reference implementation and many have it in hardware.
// Node 20 has no zlib.crc32 (added in 22.2), so the table lives here.

// The table is Int32Array so the loop stays in small-integer arithmetic (a Uint32Array entry above 2^31 is a
// heap number in V8, which made the loop several times slower).
const table = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  table[n] = c;
}

export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = -1;
  for (let i = start; i < end; i++) c = (table[(c ^ (bytes[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return ~c >>> 0;
}
