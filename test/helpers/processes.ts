// The processes still running whose command line names a path: what a command that must clean up after
// itself (edgeloop demo's agents, socat guards, the fleet simulator) may not leave behind.
import { readdirSync, readFileSync } from 'node:fs';

export interface LiveProcess {
  readonly pid: number;
  readonly cmd: string;
}

/** Every live process (not zombies) whose command line contains `text`, with its pid. */
export function liveProcessesNaming(text: string): LiveProcess[] {
  const out: LiveProcess[] = [];
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
    try {
      const status = readFileSync(`/proc/${pid}/stat`, 'utf8');
      if (/^\d+ \(.*\) Z /.test(status)) continue;
      const cmd = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
      if (cmd.includes(text)) out.push({ pid: Number(pid), cmd });
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** "pid: command line" of every live process (not zombies) whose command line contains `text`. */
export function processesNaming(text: string): string[] {
  return liveProcessesNaming(text).map((p) => `${String(p.pid)}: ${p.cmd}`);
}
