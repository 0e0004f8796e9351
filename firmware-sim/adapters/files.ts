// Small file writes for the simulator (ground truth logs).

import { writeFile } from 'node:fs/promises';

export async function writeTextFile(path: string, text: string): Promise<void> {
  await writeFile(path, text, 'utf8');
}
