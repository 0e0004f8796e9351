// Issue #9 §8 scenarios end to end through Mosquitto, the collector as a persistent QoS 1 session
// (collector-scenarios-fixture.ts).
import { test } from 'node:test';
import { haveCommand, requireTool } from '../helpers/tools.ts';
import { startMosquitto } from '../integration/agent-mqtt-fixture.ts';
import { runScenarios } from './collector-scenarios-fixture.ts';

test(
  'scenarios end to end: sim --fleet --model -> Mosquitto -> collector monitors',
  { timeout: 540_000 },
  async (t) => {
    if (!requireTool(t, haveCommand('mosquitto', ['-h']), 'mosquitto', 'apt-get install mosquitto')) return;
    const broker = await startMosquitto();
    try {
      await runScenarios(broker.url);
    } finally {
      await broker.close();
    }
  },
);
