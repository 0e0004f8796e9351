import { strict as assert } from 'node:assert';
import { test } from 'node:test';
import { SequenceTracker, streamKey } from '../../shared/mqtt/sequence.ts';

test('in-order messages are new, redeliveries are duplicates', () => {
  const s = new SequenceTracker();
  assert.deepEqual(
    [1, 2, 3].map((n) => s.accept(n)),
    ['new', 'new', 'new'],
  );
  assert.equal(s.accept(2), 'duplicate');
  assert.equal(s.accept(3), 'duplicate');
  assert.equal(s.highest, 3);
  assert.equal(s.received, 3);
  assert.equal(s.missing, 0);
  assert.equal(s.accept(0), 'reserved', 'msgSeq 0 is the last will, outside the sequence');
});

test('live-first then backlog: gaps are open until the replay fills them, then closed', () => {
  const s = new SequenceTracker();
  for (let n = 1; n <= 3; n++) s.accept(n);
  // Outage: 4..8 sit in the agent's backlog; live 9, 10 arrive first.
  assert.equal(s.accept(9), 'new');
  assert.equal(s.accept(10), 'new');
  assert.deepEqual(s.openGaps(), [[4, 8]]);
  assert.equal(s.missing, 5);
  for (const n of [4, 5, 6]) assert.equal(s.accept(n), 'new');
  assert.equal(s.accept(5), 'duplicate');
  assert.deepEqual(s.openGaps(), [[7, 8]]);
  s.accept(8);
  s.accept(7);
  assert.deepEqual(s.openGaps(), []);
  assert.equal(s.missing, 0);
  assert.equal(s.received, 10);
});

test('a stream that starts late counts the messages before it as missing', () => {
  const s = new SequenceTracker();
  s.accept(5);
  assert.deepEqual(s.openGaps(), [[1, 4]]);
});

test('memory is bounded: the oldest gap is given up as lost, and older seqs are stale', () => {
  const s = new SequenceTracker({ maxRanges: 3 });
  for (const n of [1, 3, 5, 7, 9]) s.accept(n); // 5 ranges wanted, 3 allowed
  assert.equal(s.accept(2), 'stale');
  assert.equal(s.accept(1), 'stale');
  assert.equal(s.missing, 4, 'gaps 2 and 4 given up, 6 and 8 still open');
  assert.deepEqual(s.openGaps(), [
    [6, 6],
    [8, 8],
  ]);
  assert.equal(s.accept(6), 'new');
});

test('stream keys separate devices and runs', () => {
  assert.notEqual(streamKey('a', 1), streamKey('a', 2));
  assert.notEqual(streamKey('a1', 1), streamKey('a', 11));
});
