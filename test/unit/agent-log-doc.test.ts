// Keeps the event table of docs/agent.md "Log" complete and exact: every message the agent passes to a
// logger (log.info(...), o.log.warn(...), log[level](...), child loggers) must be a row there, at the level
// the code logs it, and every row must be a message the agent still logs. Messages are found by scanning
// agent/**/*.ts; a template literal counts by its literal prefix. A message that is not a literal at the call
// (the ingest notices of agent/runtime/log-events.ts) is produced at run time here instead.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MemoryLogger, type LogLevel } from '../../shared/platform/logger.ts';
import { referenceSensors } from '../../shared/sensors.ts';
import { agentDefaults } from '../../agent/config.ts';
import type { IngestNotice } from '../../agent/ingest/pipeline.ts';
import { noticeLogger } from '../../agent/runtime/log-events.ts';

const root = fileURLToPath(new URL('../../', import.meta.url));
const levels: readonly LogLevel[] = ['debug', 'info', 'warn', 'error'];

interface Emitted {
  readonly where: string;
  /** The message, or for a template literal its literal prefix. */
  readonly message: string;
  readonly prefix: boolean;
  readonly levels: readonly LogLevel[];
}

// `log`, `logger`, `o.log`, `retry.log`, `linkLog`, `childLogger`... followed by `.level(` or `[expr](`.
const callRe = /\b(?:\w*L|l)og(?:ger)?\s*(?:\.\s*(debug|info|warn|error)|\[([^\]\n]*)\])\s*\(\s*/g;

/** The first argument at `at`: a string literal, a template literal's prefix, or the raw expression. */
function firstArgument(src: string, at: number): { literal: string | null; prefix: boolean; expr: string } {
  const quote = src.charAt(at);
  if (quote === "'" || quote === '"' || quote === '`') {
    let out = '';
    for (let i = at + 1; i < src.length; i++) {
      const c = src.charAt(i);
      if (c === '\\') {
        out += src.charAt(++i);
        continue;
      }
      if (c === quote) return { literal: out, prefix: false, expr: src.slice(at, i + 1) };
      if (quote === '`' && c === '$' && src[i + 1] === '{') return { literal: out, prefix: true, expr: '' };
      out += c;
    }
  }
  const expr = /^[^,)]*/.exec(src.slice(at))?.[0].trim() ?? '';
  return { literal: null, prefix: false, expr };
}

function agentSources(): string[] {
  const dir = join(root, 'agent');
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.ts'))
    .map((f) => join('agent', f))
    .sort();
}

// Calls whose message is not a literal: file → the expression, produced by `runtimeMessages` below.
const dynamicCalls: Readonly<Record<string, string>> = { 'agent/runtime/log-events.ts': 'e[0]' };

function scan(): { emitted: Emitted[]; dynamic: string[] } {
  const emitted: Emitted[] = [];
  const dynamic: string[] = [];
  for (const file of agentSources()) {
    const src = readFileSync(join(root, file), 'utf8');
    for (const m of src.matchAll(callRe)) {
      const where = `${file}:${String(src.slice(0, m.index).split('\n').length)}`;
      const callLevels =
        m[1] !== undefined ? [m[1] as LogLevel] : levels.filter((l) => (m[2] ?? '').includes(`'${l}'`));
      assert.ok(callLevels.length > 0, `${where}: cannot tell the level of ${m[0]}`);
      const arg = firstArgument(src, m.index + m[0].length);
      if (arg.literal !== null) {
        emitted.push({ where, message: arg.literal, prefix: arg.prefix, levels: callLevels });
        continue;
      }
      assert.equal(
        dynamicCalls[file],
        arg.expr,
        `${where}: the message ${arg.expr} is not a literal; log a fixed message (fields for what varies), ` +
          'or add the call to dynamicCalls in this test with a run-time check of its messages',
      );
      dynamic.push(file);
    }
  }
  return { emitted, dynamic };
}

/** Every message noticeLogger can log, by feeding it one notice of each kind (and each HELLO flavour). */
function runtimeMessages(): Emitted[] {
  const device = {
    deviceId: 'pump-7',
    firmwareVersion: '1.0.0',
    protocolVersion: 1,
    bootId: 1,
    sensors: referenceSensors,
  };
  // Keyed by kind, so a new notice kind fails to compile until it is added here.
  const notices: Record<IngestNotice['kind'], IngestNotice[]> = {
    mode: [{ kind: 'mode', mode: 'binary' }],
    hello: [
      { kind: 'hello', device, first: true, reboot: false },
      { kind: 'hello', device, first: false, reboot: true },
      { kind: 'hello', device, first: false, reboot: false },
    ],
    invalidFrame: [{ kind: 'invalidFrame', code: 'EDGELOOP_ERR_FRAME_CRC', message: 'bad crc' }],
    frameGap: [{ kind: 'frameGap', missingFrames: 2 }],
    sampleGap: [{ kind: 'sampleGap', sensor: 'accel', lost: 3 }],
    dropped: [{ kind: 'dropped', code: 'EDGELOOP_ERR_FRAME_CRC', reason: 'no_hello' }],
    status: [{ kind: 'status', code: 3, severity: 'warning', message: 'overrun' }],
  };
  const log = new MemoryLogger();
  const onNotice = noticeLogger(log, { ...agentDefaults, serial: '/dev/null', deviceId: 'pump-7' });
  for (const n of Object.values(notices).flat()) onNotice(n);
  return log.records.map((r) => ({
    where: 'agent/runtime/log-events.ts (run)',
    message: r.message,
    prefix: false,
    levels: [r.level],
  }));
}

/** docs/agent.md "Log" table: every backquoted event of the first column → its level cell. */
function documented(): Map<string, string> {
  const doc = readFileSync(join(root, 'docs/agent.md'), 'utf8');
  const section = /\n## Log\n([\s\S]*?)(?=\n## )/.exec(doc)?.[1];
  assert.ok(section !== undefined, 'docs/agent.md has no "## Log" section');
  const rows = new Map<string, string>();
  for (const line of section.split('\n')) {
    if (!line.startsWith('| `')) continue;
    const [event = '', level = ''] = line.split(' | ');
    for (const m of event.matchAll(/`([^`]+)`/g)) if (m[1] !== undefined) rows.set(m[1], level);
  }
  assert.ok(rows.size > 10, 'the event table of docs/agent.md "Log" was not found');
  return rows;
}

test('every message the agent logs is in the docs/agent.md log table, at its level', () => {
  const rows = documented();
  const { emitted, dynamic } = scan();
  assert.ok(
    emitted.length > 20,
    `found only ${String(emitted.length)} log calls in agent/: is the scan broken?`,
  );
  assert.deepEqual(
    dynamic.sort(),
    Object.keys(dynamicCalls).sort(),
    'a dynamicCalls entry no longer matches',
  );
  for (const e of [...emitted, ...runtimeMessages()]) {
    const names = e.prefix ? [...rows.keys()].filter((k) => k.startsWith(e.message)) : [e.message];
    const name = names.find((k) => rows.has(k));
    assert.ok(name !== undefined, `${e.where}: "${e.message}" is not in the docs/agent.md "Log" table`);
    for (const level of e.levels)
      assert.match(
        rows.get(name) ?? '',
        new RegExp(`\\b${level}\\b`),
        `${e.where}: "${e.message}" is logged at ${level}, the docs/agent.md "Log" table says otherwise`,
      );
  }
});

test('every event in the docs/agent.md log table is still logged by the agent', () => {
  const messages = [...scan().emitted, ...runtimeMessages()];
  for (const event of documented().keys())
    assert.ok(
      messages.some((e) => (e.prefix ? event.startsWith(e.message) : event === e.message)),
      `docs/agent.md "Log" documents "${event}", which nothing in agent/ logs`,
    );
});
