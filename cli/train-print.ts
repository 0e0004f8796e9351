// What `edgeloop train` prints on stdout: the test summary and where the bundle went (docs/training.md).

import type { LineageEnv, TrainModelResult } from '../collector/index.ts';

/** Accuracy, macro-F1 and per-class precision/recall of the test partition. */
export function summaryTable(r: TrainModelResult): string {
  const m = r.report.json.metrics;
  const p = r.partitions;
  const f3 = (v: number): string => v.toFixed(3);
  const w = Math.max(5, ...m.perClass.map((c) => c.label.length));
  const lines = [
    `test partition: ${p.test.count} windows from ${p.test.groups} device-minutes (train ${p.train.count} from ${p.train.groups})`,
    `  accuracy  ${f3(m.accuracy)}`,
    `  macro-F1  ${f3(m.macroF1)}`,
    `  ${'class'.padEnd(w)}  precision  recall  support`,
    ...m.perClass.map(
      (c) =>
        `  ${c.label.padEnd(w)}  ${f3(c.precision).padStart(9)}  ${f3(c.recall).padStart(6)}  ${String(c.support).padStart(7)}`,
    ),
  ];
  const imp = r.report.json.importance;
  if (imp !== undefined)
    lines.push(
      `  importance (macro-F1 drop when shuffled): ${imp.groups.map((g) => `${g.name} ${f3(g.mean)}`).join(', ')}`,
    );
  const gp = r.report.json.groupPerformance;
  if (gp?.worstDevice != null) {
    const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
    lines.push(
      `  worst device ${gp.worstDevice.name} ${pct(gp.worstDevice.accuracy)}, worst state ${gp.worstState?.name ?? '-'} ` +
        `${gp.worstState === null ? '' : pct(gp.worstState.accuracy)}; ` +
        (gp.flagged.length === 0
          ? `no group more than ${pct(gp.margin)} below overall`
          : `FLAGGED: ${gp.flagged.map((g) => `${g.kind} ${g.name} (${pct(g.gap)} below)`).join(', ')}`),
    );
  }
  return `${lines.join('\n')}\n`;
}

/** The bundle's identity: name@version, path, manifest digest, signing key, data digests and code commit. */
export function bundleLines(b: {
  readonly name: string;
  readonly version: string;
  readonly out: string;
  readonly manifestDigest: string;
  readonly keyId: string;
  readonly result: TrainModelResult;
  readonly env: LineageEnv;
}): string {
  const p = b.result.partitions;
  return (
    `bundle ${b.name}@${b.version} written to ${b.out}\n  manifest digest ${b.manifestDigest}, key ${b.keyId}\n` +
    `  train ${p.train.digest}\n  test  ${p.test.digest}\n` +
    `  code ${b.env.code.commit ?? 'unknown'}${b.env.code.dirty === true ? ' (dirty)' : ''}\n`
  );
}

/** The one-line lab data summary that ends the lab-data progress step. */
export function labLine(s: {
  readonly rows: number;
  readonly perClass: Readonly<Record<string, number>>;
  readonly skipped: { readonly straddle: number; readonly integrityFail: number; readonly imputed: number };
}): string {
  const classes = Object.entries(s.perClass)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return `${s.rows} windows, ${classes}; skipped ${s.skipped.straddle} straddling, ${s.skipped.integrityFail} integrity-fail, ${s.skipped.imputed} imputed`;
}
