// `edgeloop train` options (docs/training.md "edgeloop train"): one defaults object, one schema, loaded
// by the shared config loader (flags > EDGELOOP_* variables > --config file > defaults), validated and
// frozen, like the agent's (STYLE.md habit 8). Config-file keys are the camelCase names below; the flag is
// their kebab-case, except --key (keyPath) and --token (registryToken, EDGELOOP_REGISTRY_TOKEN).

import { resolve } from 'node:path';
import { z } from 'zod';
import { boolOption, intOption, listOption, parseCliArgs } from '../shared/config.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { DEFAULT_SEARCH_SPACE, type SearchOptions } from '../collector/index.ts';
import { loadCommandConfig } from './options.ts';

export const TRAIN_DEFAULTS = Object.freeze({
  /** Bundle directory to write; must be absent or empty. Required. */
  out: '',
  /** Seed of the lab data, split, folds, search and weights. */
  seed: 1,
  search: 'random',
  /** Search budget, trials. */
  trials: 8,
  /** Validation folds, grouped by device-minute. */
  folds: 3,
  /** Hidden-unit candidates, comma-separated ('' = the built-in space). */
  hidden: '',
  /** Epoch candidates, comma-separated ('' = the built-in space). */
  epochs: '',
  /** Device time simulated per device, s. */
  secondsPerDevice: 30,
  devicesPerState: 6,
  /** Share of each class's device-minutes held out for test, in (0, 1). */
  testFraction: 0.2,
  name: 'machine-condition',
  version: '0.1.0',
  /** Ed25519 private key file ('' = a fresh ephemeral key beside the bundle). */
  keyPath: '',
  /** Registry to push to ('' = no push). */
  push: '',
  /** Bearer token for push. */
  registryToken: '',
  /** Alias to move after the push ('' = none). */
  promote: '',
  /** Collector to read captured windows and operator labels from ('' = lab data only). */
  collector: '',
  /** Devices whose captured windows to use, comma-separated (needs --collector). */
  devices: '',
  /** Device-time range [from, to) of the captured windows: ISO-8601 or ms since the epoch. */
  from: '',
  to: '',
  /** Label otherwise unlabelled captured windows with the model's confident predictions (flagged `pseudo`). */
  pseudoLabels: false,
  /** `auto`: also lab data under the conditions estimated from the captured windows; `off`: not. */
  labConditions: 'auto',
});

/** ms since the epoch from an ISO-8601 time or an integer; undefined for ''. */
function timeOption(what: string) {
  return z.union([z.string(), z.number()]).transform((v, ctx) => {
    const s = String(v).trim();
    if (s === '') return undefined;
    const ms = /^\d+$/.test(s) ? Number(s) : Date.parse(s);
    if (!Number.isSafeInteger(ms) || ms < 0) {
      ctx.addIssue({
        code: 'custom',
        message: `${what}: expected ISO-8601 (2026-01-05T08:00:00Z) or ms since the epoch`,
      });
      return z.NEVER;
    }
    return ms;
  });
}

const intList = (min: number, max: number) =>
  z.union([z.string(), z.array(z.union([z.number(), z.string()]))]).transform((v, ctx) => {
    const parts = (typeof v === 'string' ? v.split(',') : v.map(String)).map((s) => s.trim());
    if (parts.length === 1 && parts[0] === '') return undefined;
    const out = parts.map(Number);
    if (parts.some((p) => !/^\d+$/.test(p)) || out.some((n) => n < min || n > max)) {
      ctx.addIssue({
        code: 'custom',
        message: `must be comma-separated integers ${min}..${max}, got "${parts.join(',')}"`,
      });
      return z.NEVER;
    }
    return out;
  });

const fractionExpected = 'expected a fraction in (0, 1), e.g. 0.2';

const schema = z
  .object({
    out: z.string(),
    seed: intOption(0, 2 ** 32 - 1),
    search: z.enum(['grid', 'random'], { error: 'expected grid or random' }),
    trials: intOption(1, 10_000, 'trials'),
    folds: intOption(2, 100, 'folds'),
    hidden: intList(0, 1024),
    epochs: intList(1, 10_000),
    secondsPerDevice: intOption(1, 86_400, 'seconds'),
    devicesPerState: intOption(1, 1000, 'devices'),
    testFraction: z.coerce
      .number({ error: fractionExpected })
      .gt(0, fractionExpected)
      .lt(1, fractionExpected),
    name: z
      .string()
      .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/, 'must be lowercase letters, digits, . _ - (at most 64)'),
    version: z
      .string()
      .regex(/^\d{1,9}\.\d{1,9}\.\d{1,9}(?:[-+][0-9A-Za-z.+-]{1,64})?$/, 'must be MAJOR.MINOR.PATCH'),
    keyPath: z.string(),
    push: z.string().refine((v) => v === '' || /^https?:\/\/./.test(v), 'must be an http(s) URL'),
    registryToken: z.string(),
    promote: z.enum(['', 'staging', 'canary', 'production'], {
      error: 'must be staging, canary or production',
    }),
    collector: z.string().refine((v) => v === '' || /^https?:\/\/./.test(v), 'must be an http(s) URL'),
    devices: listOption,
    from: timeOption('from'),
    to: timeOption('to'),
    pseudoLabels: boolOption,
    labConditions: z.enum(['auto', 'off'], { error: 'expected auto or off' }),
  })
  .strict();

export interface TrainConfig {
  readonly out: string;
  readonly seed: number;
  readonly search: SearchOptions;
  readonly devicesPerState: number;
  readonly secondsPerDevice: number;
  readonly testFraction: number;
  readonly name: string;
  readonly version: string;
  readonly keyPath: string | undefined;
  readonly push: string | undefined;
  readonly token: string | undefined;
  readonly promote: string | undefined;
  /** Captured data from a collector (issue 10 §2), or undefined for lab data only. */
  readonly collector:
    | {
        readonly url: string;
        readonly devices: readonly string[];
        readonly fromMs: number;
        readonly toMs: number;
        readonly pseudoLabels: boolean;
        readonly labConditions: boolean;
      }
    | undefined;
}

export const trainFlags = {
  out: { type: 'string' },
  seed: { type: 'string' },
  search: { type: 'string' },
  trials: { type: 'string' },
  folds: { type: 'string' },
  hidden: { type: 'string' },
  epochs: { type: 'string' },
  'seconds-per-device': { type: 'string' },
  'devices-per-state': { type: 'string' },
  'test-fraction': { type: 'string' },
  key: { type: 'string' },
  name: { type: 'string' },
  version: { type: 'string' },
  push: { type: 'string' },
  token: { type: 'string' },
  promote: { type: 'string' },
  collector: { type: 'string' },
  devices: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  'pseudo-labels': { type: 'boolean' },
  'lab-conditions': { type: 'string' },
  config: { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

const orUndefined = (s: string): string | undefined => (s === '' ? undefined : s);

/**
 * Flags, EDGELOOP_* variables and the --config file over TRAIN_DEFAULTS; every problem is an
 * EdgeloopError naming the option (USAGE for what is missing, CONFIG_* for a bad or unknown value).
 */
export function parseTrainArgs(
  argv: readonly string[],
  env: Readonly<Record<string, string | undefined>> = {},
): TrainConfig | 'help' {
  const { values } = parseCliArgs(argv, trainFlags, false);
  if (values.help === true) return 'help';
  const c = loadCommandConfig(
    {
      command: 'train',
      defaults: TRAIN_DEFAULTS,
      schema,
      env,
      configFile: typeof values.config === 'string' ? values.config : undefined,
    },
    values,
    { key: 'keyPath', token: 'registryToken' },
  );
  if (c.out === '') throw new EdgeloopError('EDGELOOP_ERR_USAGE', 'train needs --out <dir>');
  if (c.promote !== '' && c.push === '')
    throw new EdgeloopError('EDGELOOP_ERR_USAGE', '--promote needs --push <url>');
  const { hidden, epochs } = c;
  let collector: TrainConfig['collector'];
  if (c.collector !== '') {
    if (c.devices.length === 0 || c.from === undefined || c.to === undefined)
      throw new EdgeloopError('EDGELOOP_ERR_USAGE', '--collector needs --devices, --from and --to');
    if (c.from >= c.to)
      throw new EdgeloopError('EDGELOOP_ERR_USAGE', `--from (${c.from}) must be before --to (${c.to})`);
    collector = Object.freeze({
      url: c.collector,
      devices: Object.freeze([...c.devices]),
      fromMs: c.from,
      toMs: c.to,
      pseudoLabels: c.pseudoLabels,
      labConditions: c.labConditions === 'auto',
    });
  } else if (c.devices.length > 0 || c.from !== undefined || c.to !== undefined || c.pseudoLabels)
    throw new EdgeloopError(
      'EDGELOOP_ERR_USAGE',
      '--devices, --from, --to and --pseudo-labels need --collector <url>',
    );
  return Object.freeze({
    out: resolve(c.out),
    seed: c.seed,
    search: Object.freeze({
      kind: c.search,
      trials: c.trials,
      folds: c.folds,
      ...(hidden === undefined && epochs === undefined
        ? {}
        : {
            space: {
              ...(hidden === undefined ? {} : { hidden }),
              ...(epochs === undefined ? {} : { epochs }),
            },
          }),
    }),
    devicesPerState: c.devicesPerState,
    secondsPerDevice: c.secondsPerDevice,
    testFraction: c.testFraction,
    name: c.name,
    version: c.version,
    keyPath: orUndefined(c.keyPath),
    push: orUndefined(c.push),
    token: orUndefined(c.registryToken),
    promote: orUndefined(c.promote),
    collector,
  });
}

export const trainHelp = `edgeloop train: build a labelled dataset, train, test and export a signed model bundle

Usage: edgeloop train --out <dir> [options]

Simulates firmware-sim boards in every machine state (normal, imbalance, misalignment, bearing_wear,
overheating), decodes, windows (1 s) and featurizes their serial streams exactly as the agent does,
labels each window with the true state, splits by device-minute, searches hyperparameters on grouped
validation folds, fits the final model, tests it, exports ONNX and writes a signed bundle.

Every option is also a --config file key (the camelCase name in brackets) and an EDGELOOP_* variable
(its SNAKE_CASE, e.g. EDGELOOP_DEVICES_PER_STATE). Precedence: flag > variable > config file > default.

Data:
  --seed <n>                  [seed] integer seed for the lab data, split, folds, search and weights. Default ${TRAIN_DEFAULTS.seed}.
  --devices-per-state <n>     [devicesPerState] simulated devices per machine state. Default ${TRAIN_DEFAULTS.devicesPerState}.
  --seconds-per-device <s>    [secondsPerDevice] device time simulated per device, seconds (one 1 s window each). Default ${TRAIN_DEFAULTS.secondsPerDevice}.
  --test-fraction <x>         [testFraction] share of each class's device-minutes held out for test, in (0, 1). Default ${TRAIN_DEFAULTS.testFraction}.

Search:
  --search grid|random        [search] hyperparameter search. Default ${TRAIN_DEFAULTS.search}.
  --trials <n>                [trials] search budget, trials (grid: at most the grid size). Default ${TRAIN_DEFAULTS.trials}.
  --folds <n>                 [folds] validation folds (>= 2), grouped by device-minute. Default ${TRAIN_DEFAULTS.folds}.
  --hidden <list>             [hidden] hidden-unit candidates, comma-separated (0 = softmax regression). Default ${DEFAULT_SEARCH_SPACE.hidden.join(',')}.
  --epochs <list>             [epochs] epoch candidates, comma-separated. Default ${DEFAULT_SEARCH_SPACE.epochs.join(',')}.

Bundle:
  --out <dir>                 [out] bundle directory to write; must be absent or empty. Required.
  --name <name>               [name] model name (lowercase, digits, . _ -). Default ${TRAIN_DEFAULTS.name}.
  --version <x.y.z>           [version] model version. Default ${TRAIN_DEFAULTS.version}.
  --key <file>                [keyPath, EDGELOOP_KEY_PATH] Ed25519 private key (PEM, from edgeloop keygen) that
                              signs the bundle. Default: a fresh ephemeral key, written beside the bundle as
                              <out>.signing.key / <out>.signing.pub (a warning says so).

Registry (optional):
  --push <url>                [push] push the bundle to this registry (e.g. http://127.0.0.1:8470). Default: no push.
  --token <token>             [registryToken, EDGELOOP_REGISTRY_TOKEN] bearer token for --push. Default: none.
  --promote <alias>           [promote] after pushing, move staging|canary|production to this version. Default: none.

Captured data (issue 10; docs/retraining.md):
  --collector <url>           [collector] read captured windows and operator labels from this collector's API
                              (e.g. http://127.0.0.1:8080) and add them to the lab data. Default: lab data only.
  --devices <a,b>             [devices] devices whose windows to read (needs --collector).
  --from <time>               [from] start of the device-time range, ISO-8601 or ms since the epoch (inclusive).
  --to <time>                 [to] end of the range (exclusive).
  --pseudo-labels             [pseudoLabels] label windows no operator label covers with the model's
                              confident predictions (>= 0.9), flagged \`pseudo\`, train only. Default off.
  --lab-conditions auto|off   [labConditions] auto: also lab data under the ambient temperature and sensor
                              offsets estimated from the windows (label source \`lab_conditions\`). Default auto.
  Windows an operator label covers (POST /api/v1/labels) are rows with label source \`operator\`; each
  device's newest 30 % of them are held out for the test partition. --token is sent to the collector too.

  --config <file>             JSON file of the keys above.
  -h, --help                  show this help.

Progress goes to stderr (a bar on a terminal, plain lines otherwise); the test summary and the bundle
path go to stdout. Ctrl-C stops between lab devices and search trials (exit 130) and leaves no key files.
Exit codes: 0 done, 1 failed (message carries an EDGELOOP_ERR_* code), 2 usage, a bad option or an
unusable --out.
`;
