#!/usr/bin/env node
// The `edgeloop` command. Runs the compiled CLI from dist/ when it has been built, and the TypeScript
// sources through tsx otherwise, so `npm install && npx edgeloop demo` works without a build step.
import { existsSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const built = `${root}dist/cli/edgeloop.js`;
if (existsSync(built) && process.env.EDGELOOP_FROM_SOURCE !== '1') {
  await import(pathToFileURL(built).href);
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(`${root}cli/edgeloop.ts`).href);
}
