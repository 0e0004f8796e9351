// A Writable that hands each chunk to a callback as text: how a command run inside another one (the demo's
// baseline training and push, `train`'s registry step) has its output read.

import { Writable } from 'node:stream';

export function textSink(onText: (text: string) => void): Writable {
  return new Writable({
    write(chunk: Buffer | string, _enc, done) {
      onText(chunk.toString());
      done();
    },
  });
}
