// The simulator's public API for tests, the agent end-to-end test and lab-data generation
// (docs/firmware-sim.md §API). Named re-exports only.

export { createBoard, Board, BLOCK_US, FIRMWARE_VERSION, type BoardOptions } from './board.ts';
export {
  groundTruthLines,
  type GroundTruth,
  type LostFrame,
  type SensorTotals,
  type FrameTotals,
  type InjectedEvent,
} from './ground-truth.ts';
export type { TrueState } from './machine.ts';
export type { SimOutput, SimOutputKind } from './output.ts';
export { runSim, type RunSimOptions, type SimSummary, type SimProgress, type Speed } from './run.ts';
export {
  machineStates,
  parseScenario,
  parseScenarioText,
  type MachineState,
  type Scenario,
  type ScenarioEvent,
} from './scenario.ts';
export { listScenarios, loadScenario, type ScenarioInfo } from './adapters/scenario-files.ts';
export { openOutput, type OpenOutputOptions } from './adapters/outputs.ts';
export {
  createVirtualSerialPair,
  ptyOutput,
  type VirtualSerialPair,
  type VirtualSerialOptions,
} from './adapters/pty.ts';
export { fileOutput, streamOutput } from './adapters/stream-output.ts';
export { serialOutput, DEFAULT_BAUD } from './adapters/serial.ts';
export {
  fleetDeviceIds,
  runFleet,
  type FleetOptions,
  type FleetSummary,
  type FleetProgress,
  type FleetLink,
} from './fleet.ts';
export { connectFleetDevice, type FleetMqttLink, type FleetMqttOptions } from './adapters/mqtt.ts';
