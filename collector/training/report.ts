// The held-out test report (issue #3 §3) as JSON and as a Markdown page.
import type { Calibration, ClassificationMetrics } from './metrics.ts';
import type { Hyperparameters } from './model.ts';
import type { GroupPerformance } from '../explain/group-performance.ts';
import type { PermutationImportance } from '../explain/permutation.ts';
import { barChart } from '../explain/render.ts';

export interface LatencyReport {
  /** 'onnxruntime-node' when the exported model was timed, else 'typescript' (the in-process model). */
  readonly engine: 'onnxruntime-node' | 'typescript';
  readonly batchSize: 1;
  /** Single-row inferences timed (after a short warm-up). */
  readonly samples: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly meanMs: number;
}

export interface ParityReport {
  /** Largest |onnxruntime - TypeScript| over every test probability. */
  readonly maxAbsDiff: number;
  /** Test rows whose ONNX label differs from the TypeScript argmax. */
  readonly labelMismatches: number;
}

export interface TestReport {
  readonly schema: 'edgeloop-test-report-v1';
  readonly classes: readonly string[];
  /** Rows in the test partition. */
  readonly rows: number;
  readonly testDigest: string;
  readonly hyperparameters: Hyperparameters;
  readonly metrics: ClassificationMetrics;
  readonly calibration: Calibration;
  /** Timing; varies run to run, unlike everything above. */
  readonly latency: LatencyReport;
  /** Present when the exported model was run in onnxruntime-node. */
  readonly onnxParity?: ParityReport;
  /** Permutation importance on the test partition (docs/explanations.md); absent when skipped. */
  readonly importance?: PermutationImportance;
  /** Metrics per device and per machine state, with the worst and the flagged groups. */
  readonly groupPerformance?: GroupPerformance;
}

const pct = (v: number): string => `${(v * 100).toFixed(1)}%`;
const f3 = (v: number): string => v.toFixed(3);

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/** A readable page: headline metrics, per-class table, confusion matrix, reliability table, latency. */
export function renderMarkdown(r: TestReport): string {
  const m = r.metrics;
  const out: string[] = [];
  out.push('# Test report', '');
  out.push(`Held-out test partition: ${r.rows} rows, digest \`${r.testDigest}\`.`, '');
  out.push(
    table(
      ['Metric', 'Value'],
      [
        ['Accuracy', pct(m.accuracy)],
        ['Macro-F1', f3(m.macroF1)],
        ['Expected calibration error', f3(r.calibration.ece)],
        [
          `Latency p50 / p99 (batch 1, ${r.latency.engine})`,
          `${r.latency.p50Ms.toFixed(3)} / ${r.latency.p99Ms.toFixed(3)} ms`,
        ],
      ],
    ),
    '',
  );
  const hp = r.hyperparameters;
  out.push(
    `Model: ${hp.hidden === 0 ? 'softmax regression' : `MLP, ${hp.hidden} ReLU units`}; learning rate ${hp.learningRate}, ` +
      `L2 ${hp.l2}, ${hp.epochs} epochs, batch ${hp.batchSize}.`,
    '',
  );
  out.push('## Per class', '');
  out.push(
    table(
      ['Class', 'Precision', 'Recall', 'F1', 'Support'],
      m.perClass.map((c) => [c.label, f3(c.precision), f3(c.recall), f3(c.f1), String(c.support)]),
    ),
    '',
  );
  out.push('## Confusion matrix', '', 'Rows are the true class, columns the predicted class.', '');
  out.push(
    table(
      ['true \\ predicted', ...r.classes],
      m.confusion.map((row, i) => [r.classes[i] ?? String(i), ...row.map(String)]),
    ),
    '',
  );
  out.push('## Calibration (reliability)', '');
  out.push(
    'Top-class confidence in ten equal bins; a calibrated model has accuracy close to confidence.',
    '',
  );
  out.push(
    table(
      ['Confidence bin', 'Rows', 'Mean confidence', 'Accuracy', 'Gap'],
      r.calibration.bins
        .filter((b) => b.count > 0)
        .map((b) => [
          `${b.lower.toFixed(1)}-${b.upper.toFixed(1)}`,
          String(b.count),
          f3(b.confidence),
          f3(b.accuracy),
          f3(b.accuracy - b.confidence),
        ]),
    ),
    '',
    `ECE = ${r.calibration.ece.toFixed(4)}.`,
    '',
  );
  out.push('## Inference latency', '');
  out.push(
    `${r.latency.samples} single-row inferences with ${r.latency.engine}: p50 ${r.latency.p50Ms.toFixed(3)} ms, ` +
      `p99 ${r.latency.p99Ms.toFixed(3)} ms, mean ${r.latency.meanMs.toFixed(3)} ms.`,
    '',
  );
  if (r.onnxParity !== undefined) {
    out.push('## ONNX parity', '');
    out.push(
      `onnxruntime-node vs the TypeScript model on all ${r.rows} test rows: max |Δp| = ${r.onnxParity.maxAbsDiff.toExponential(2)}, ` +
        `${r.onnxParity.labelMismatches} label mismatches.`,
      '',
    );
  }
  out.push(...explanationSections(r));
  return out.join('\n');
}

/** Top features shown in the readable report; report.json has them all. */
const TOP_FEATURES = 15;

function explanationSections(r: TestReport): string[] {
  const out: string[] = [];
  const imp = r.importance;
  if (imp !== undefined) {
    const spread = (m: number, s: number) => `${m.toFixed(3)} ± ${s.toFixed(3)}`;
    out.push('## Permutation importance', '');
    out.push(
      `Drop in macro-F1 (from ${imp.baseline.toFixed(3)}) when a sensor group's or a feature's values are shuffled ` +
        `across the ${imp.rows} test rows; mean ± standard deviation over ${imp.repeats} seeded repeats (seed ${imp.seed}).`,
      '',
      'By sensor group:',
      '',
      '```',
      ...barChart(imp.groups.map((g) => ({ label: g.name, value: g.mean, text: spread(g.mean, g.std) }))),
      '```',
      '',
      `Top ${Math.min(TOP_FEATURES, imp.features.length)} of ${imp.features.length} features:`,
      '',
      '```',
      ...barChart(
        imp.features
          .slice(0, TOP_FEATURES)
          .map((g) => ({ label: g.name, value: g.mean, text: spread(g.mean, g.std) })),
      ),
      '```',
      '',
    );
  }
  const gp = r.groupPerformance;
  if (gp !== undefined) {
    out.push('## Performance by group', '');
    out.push(
      `Overall accuracy ${pct(gp.accuracy)}. A group more than ${pct(gp.margin)} below it is flagged.`,
      '',
    );
    for (const [title, list] of [
      ['Device', gp.devices],
      ['Machine state', gp.states],
    ] as const) {
      out.push(
        table(
          [title, 'Rows', 'Accuracy', 'Macro-F1', 'Gap', ''],
          list.map((g) => [
            g.name,
            String(g.rows),
            pct(g.accuracy),
            f3(g.macroF1),
            pct(g.gap),
            gp.flagged.includes(g) ? '**flagged**' : '',
          ]),
        ),
        '',
      );
    }
    const worst = [gp.worstDevice, gp.worstState].filter((g) => g !== null);
    out.push(
      `Worst groups: ${worst.map((g) => `${g.kind} ${g.name} (${pct(g.accuracy)})`).join(', ')}.`,
      gp.flagged.length === 0
        ? 'No group is flagged.'
        : `Flagged: ${gp.flagged.map((g) => `${g.kind} ${g.name}, ${pct(g.gap)} below overall`).join('; ')}.`,
      '',
    );
  }
  return out;
}
