// Issue #9 §8 scenarios end to end on the collector's embedded aedes broker (collector-scenarios-fixture.ts).
import { test } from 'node:test';
import { runScenarios } from './collector-scenarios-fixture.ts';

test(
  'scenarios end to end: sim --fleet --model -> embedded aedes broker -> collector monitors',
  { timeout: 540_000 },
  () => runScenarios(undefined),
);
