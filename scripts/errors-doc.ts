// Writes docs/errors.md from the error catalogue in shared/errors.ts, so the list of codes in the docs is
// the list in the code. Run: node --import tsx scripts/errors-doc.ts. test/unit/errors.test.ts checks it.
import { writeFileSync } from 'node:fs';
import { errorCatalogue } from '../shared/errors.ts';

export function renderErrorsDoc(): string {
  const groups = new Map<string, [string, string][]>();
  for (const [code, message] of Object.entries(errorCatalogue)) {
    const area = code.replace('EDGELOOP_ERR_', '').split('_')[0] ?? 'OTHER';
    const list = groups.get(area) ?? [];
    list.push([code, message]);
    groups.set(area, list);
  }
  const parts = [
    '# Error codes',
    '',
    'Every expected failure in edgeloop carries a stable code from one catalogue (`shared/errors.ts`).',
    'The code, not the message, is the API: scripts and alerts may match on it, and it never changes meaning.',
    'The CLI prints it in brackets after the message, HTTP APIs return it as `error.code`, and MQTT',
    'model-state messages carry it in `code`. This page is generated from the catalogue',
    '(`node --import tsx scripts/errors-doc.ts`); a test fails when they differ.',
    '',
  ];
  for (const [area, list] of [...groups.entries()].sort()) {
    parts.push(`## ${area}`, '', '| code | meaning and what to do |', '| --- | --- |');
    for (const [code, message] of list.sort())
      parts.push(`| \`${code}\` | ${message.replace(/\|/g, '\\|')} |`);
    parts.push('');
  }
  return parts.join('\n');
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  writeFileSync(new URL('../docs/errors.md', import.meta.url), renderErrorsDoc());
}
