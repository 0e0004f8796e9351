// A strict parser of the Prometheus text exposition format 0.0.4, written for the agent metrics tests
// (test/unit/agent-metrics.test.ts, test/integration/agent-promtool.test.ts): HELP/TYPE lines, metric and
// label name syntax, escaped label values, float values, histogram series. It throws on anything a
// Prometheus server would reject; promtool (in the integration test) adds its own lint on top.

export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}
export interface Family {
  help?: string;
  type?: string;
  readonly samples: Sample[];
}

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);

function parseValue(s: string): number {
  if (s === '+Inf') return Infinity;
  if (s === '-Inf') return -Infinity;
  if (s === 'NaN') return NaN;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) throw new Error(`bad value ${JSON.stringify(s)}`);
  return Number(s);
}

/** Parses label pairs `{a="x",b="y\"z"}` starting at s[i] === '{'; returns labels and the index after '}'. */
function parseLabels(s: string, start: number): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  while (s[i] !== '}') {
    const eq = s.indexOf('=', i);
    if (eq < 0) throw new Error(`label without = in ${s}`);
    const name = s.slice(i, eq);
    if (!LABEL_NAME.test(name)) throw new Error(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) throw new Error(`duplicate label ${name}`);
    if (s[eq + 1] !== '"') throw new Error(`unquoted label value in ${s}`);
    let j = eq + 2;
    let v = '';
    for (;;) {
      const c = s[j];
      if (c === undefined) throw new Error(`unterminated label value in ${s}`);
      if (c === '"') break;
      if (c === '\\') {
        const n = s[j + 1];
        if (n === 'n') v += '\n';
        else if (n === '\\' || n === '"') v += n;
        else throw new Error(`bad escape \\${String(n)} in ${s}`);
        j += 2;
      } else {
        if (c === '\n') throw new Error('raw newline in label value');
        v += c;
        j++;
      }
    }
    labels[name] = v;
    i = j + 1;
    if (s[i] === ',') i++;
    else if (s[i] !== '}') throw new Error(`expected , or } at ${i} in ${s}`);
  }
  return [labels, i + 1];
}

/** A strict parser of the text format: throws on anything a Prometheus server would reject. */
export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('exposition must end with a newline');
  const families = new Map<string, Family>();
  const family = (name: string): Family => {
    let f = families.get(name);
    if (f === undefined) {
      f = { samples: [] };
      families.set(name, f);
    }
    return f;
  };
  const seen = new Set<string>();
  for (const line of text.slice(0, -1).split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (m === null) continue; // a plain comment
      const [, kind, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
      const f = family(name);
      if (kind === 'HELP') {
        if (f.help !== undefined) throw new Error(`second HELP for ${name}`);
        f.help = rest;
      } else {
        if (f.type !== undefined) throw new Error(`second TYPE for ${name}`);
        if (f.samples.length > 0) throw new Error(`TYPE after samples for ${name}`);
        if (!TYPES.has(rest)) throw new Error(`bad type ${rest} for ${name}`);
        f.type = rest;
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`bad sample line ${JSON.stringify(line)}`);
    const name = line.slice(0, nameEnd);
    if (!METRIC_NAME.test(name)) throw new Error(`bad metric name ${name}`);
    let labels: Record<string, string> = {};
    let i = nameEnd;
    if (line[i] === '{') [labels, i] = parseLabels(line, i);
    if (line[i] !== ' ') throw new Error(`expected space before value in ${line}`);
    const parts = line.slice(i + 1).split(' ');
    if (parts.length > 2) throw new Error(`trailing fields in ${line}`);
    const value = parseValue(parts[0] ?? '');
    if (parts[1] !== undefined && !/^-?\d+$/.test(parts[1])) throw new Error(`bad timestamp in ${line}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (seen.has(key)) throw new Error(`duplicate series ${key}`);
    seen.add(key);
    const base = name.replace(/_(bucket|sum|count)$/, '');
    const f = families.has(name) ? family(name) : families.has(base) ? family(base) : family(name);
    if (f.type === undefined) throw new Error(`sample ${name} before its TYPE`);
    if (f.type === 'histogram' && name.endsWith('_bucket') && !('le' in labels))
      throw new Error(`${name} without le`);
    f.samples.push({ name, labels, value });
  }
  return families;
}

export function value(
  fams: Map<string, Family>,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  const base = name.replace(/_(bucket|sum|count)$/, '');
  const f = fams.get(name) ?? fams.get(base);
  return f?.samples.find(
    (s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
  )?.value;
}
