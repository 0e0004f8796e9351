// What the collector needs from a sensor-board simulator to make labelled lab data (issue #7 §3). The
// collector never imports firmware-sim (the runtimes never import each other): the composition root
// (cli/lab-simulator.ts) adapts firmware-sim's Board to this interface and passes it in. Retraining under
// estimated field conditions will ask the same interface for boards at other operating points.

/** The operating point one simulated device runs at. */
export interface LabConditions {
  /** Machine load, 0..1. */
  readonly load: number;
  /** Fault severity, 0..1 (1 for a healthy machine). */
  readonly severity: number;
  /** Shaft rotation frequency, Hz. */
  readonly shaftHz: number;
  /** Ambient temperature, degrees C. */
  readonly ambientC: number;
  /** Ambient relative humidity, %RH. */
  readonly humidityPct: number;
  /** Barometric pressure, hPa. */
  readonly pressureHpa: number;
  /** Hour of day at t = 0 (0..24): where the run sits on the daily temperature and humidity cycle. */
  readonly startHour: number;
  /**
   * Constant sensor offsets per channel (`accel.x`, `gyro.z`, `humidity`, ...) in the channel's unit, present
   * from the first sample: what a calibration drift looks like once it has happened (retraining under
   * estimated conditions, docs/retraining.md). Default none.
   */
  readonly offsets?: Readonly<Record<string, number>>;
}

export interface LabBoardSpec {
  readonly deviceId: string;
  /** One of LabSimulator.machineStates, held for the whole run. */
  readonly state: string;
  readonly seed: number;
  /** Device time the run spans, seconds. */
  readonly seconds: number;
  readonly conditions: LabConditions;
}

/** The true machine state at a device time: the label source. */
export interface LabTrueState {
  readonly state: string;
  /** 0..1 through a state ramp; 1 once the state is fully established. */
  readonly progress: number;
}

/** One simulated board: pull-based, in memory, deterministic by its spec. */
export interface LabBoard {
  /** The serial-protocol wire bytes the board sends from where it stopped up to device time untilUs. */
  generate(untilUs: number): Uint8Array;
  /** The machine's true state at device time us. */
  stateAt(us: number): LabTrueState;
}

export interface LabSimulator {
  /** The machine states the simulator can run, in label order. */
  readonly machineStates: readonly string[];
  /** Builds a board in one steady machine state. Throws for a spec the simulator cannot run (a bug). */
  createBoard(spec: LabBoardSpec): LabBoard;
}
