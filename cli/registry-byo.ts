// `edgeloop registry push --onnx`: bring your own model (issue #3 §5). Packages an ONNX file that did not
// come from our trainer (reference profile from a feature CSV, golden cases from running the model), signs
// it and pushes it. See docs/model-bundle.md for the steps.
import { readFile } from 'node:fs/promises';
import { writeBundleContents } from '../collector/index.ts';
import { EdgeloopError } from '../shared/errors.ts';
import { lineageLibraries } from '../shared/platform/package-info.ts';
import { encodeBundleArchive } from '../shared/platform/tar.ts';
import { metricsSchema, type Metrics } from '../shared/bundle/manifest.ts';
import type { CliIO } from './commands.ts';
import { type Client, enc, Refused, type Values, type VersionJson } from './registry-client.ts';

/** --golden-rows: an integer >= 1 (0 used to give 1 golden case silently). */
function goldenRowsOption(raw: Values[string]): number | undefined {
  if (raw === undefined) return undefined;
  const n = typeof raw === 'string' && /^\s*\d+\s*$/.test(raw) ? Number(raw) : NaN;
  if (!Number.isSafeInteger(n) || n < 1)
    throw new EdgeloopError(
      'EDGELOOP_ERR_CONFIG_INVALID',
      `--golden-rows must be an integer >= 1 (the number of dataset rows recorded as golden cases), got "${String(raw)}"`,
    );
  return n;
}

export async function pushOnnx(c: Client, values: Values, io: CliIO): Promise<number> {
  const str = (k: string): string => {
    const v = values[k];
    if (typeof v !== 'string' || v === '')
      throw new EdgeloopError('EDGELOOP_ERR_USAGE', `push --onnx needs --${k}`);
    return v;
  };
  const read = async (path: string): Promise<Buffer> => {
    try {
      return await readFile(path);
    } catch (err) {
      throw new Refused('EDGELOOP_ERR_INPUT_READ', `cannot read ${path}: ${(err as Error).message}`);
    }
  };
  const [{ packageOnnxModel, parseFeatureCsv, loadOnnxSession }, { createSignedBundle }, features] =
    await Promise.all([
      import('../collector/index.ts'),
      import('../shared/bundle/build.ts'),
      import('../shared/features/pipeline.ts'),
    ]);
  const pipelineId = str('pipeline');
  let paramsHash = typeof values['pipeline-hash'] === 'string' ? values['pipeline-hash'] : undefined;
  if (paramsHash === undefined && pipelineId === features.featurePipelineId)
    paramsHash = features.createFeaturePipeline().paramsHash;
  if (paramsHash === undefined)
    throw new EdgeloopError(
      'EDGELOOP_ERR_USAGE',
      `--pipeline ${pipelineId} is not built in: pass --pipeline-hash`,
    );
  const goldenRows = goldenRowsOption(values['golden-rows']);
  const datasetPath = str('dataset');
  const dataset = parseFeatureCsv(
    (await read(datasetPath)).toString('utf8'),
    datasetPath.slice(datasetPath.lastIndexOf('/') + 1),
  );
  if (!dataset.ok) throw new Refused(dataset.code, dataset.message);
  let metrics: Metrics | undefined;
  if (typeof values.metrics === 'string') {
    let parsed: unknown;
    try {
      parsed = JSON.parse((await read(values.metrics)).toString('utf8'));
    } catch (err) {
      if (err instanceof Refused) throw err;
    }
    const m = metricsSchema.safeParse(parsed);
    if (!m.success)
      throw new EdgeloopError(
        'EDGELOOP_ERR_CONFIG_INVALID',
        `--metrics ${values.metrics} must be a JSON object of numbers`,
      );
    metrics = m.data;
  }
  const packaged = await packageOnnxModel(
    {
      onnx: new Uint8Array(await read(str('onnx'))),
      name: str('name'),
      version: str('version'),
      labels: str('labels')
        .split(',')
        .map((l) => l.trim()),
      pipeline: { id: pipelineId, paramsHash },
      dataset: dataset.value,
      ...(goldenRows === undefined ? {} : { goldenRows }),
      ...(metrics === undefined ? {} : { metrics }),
      createdAt: new Date().toISOString(),
      // What packaged and checked the model: the runtime that loaded it and the parser that read it.
      libraries: lineageLibraries(['onnxruntime-node', 'onnx-proto']),
    },
    (b) => loadOnnxSession(b),
  );
  if (!packaged.ok) throw new Refused(packaged.code, packaged.message);
  const signed = createSignedBundle(
    packaged.value.manifest,
    packaged.value.files,
    (await read(str('key'))).toString('utf8'),
  );
  if (!signed.ok) throw new Refused(signed.code, signed.message);
  if (typeof values.out === 'string') {
    const w = await writeBundleContents(values.out, signed.value.contents);
    if (!w.ok) throw new Refused(w.code, w.message);
  }
  const name = signed.value.manifest.name;
  const r = (await c.json(
    'POST',
    `/models/${enc(name)}/versions`,
    undefined,
    encodeBundleArchive(signed.value.contents, { gzip: true }),
  )) as VersionJson & { created: boolean };
  io.stdout.write(
    values.json === true
      ? `${JSON.stringify(r, null, 2)}\n`
      : `${r.created ? 'packaged and pushed' : 'already present (identical)'} ${name}@${r.version} manifest ${r.manifestDigest} (${signed.value.manifest.golden.cases} golden cases)\n` +
          (packaged.value.files.has('report.json')
            ? '  report.json: permutation importance and per-state performance on the labelled dataset\n'
            : '  no report.json: the dataset has no label column, so permutation importance was not computed\n'),
  );
  return 0;
}
