// A small progress display for long CLI steps (lab data, search trials, final fit). On a TTY it redraws
// one bar in place; anywhere else (CI logs, pipes, tests) it prints plain lines, at most one per tenth
// of the work, so a log stays readable and greppable.

export interface ProgressStep {
  /** Reports `done` of `total` units, with an optional note (e.g. "best macro-F1 0.981"). */
  update(done: number, note?: string): void;
  /** Finishes the step with a final line. Idempotent. */
  end(note?: string): void;
}

export interface Progress {
  /** Starts a step of `total` units (total 0: a step without a count, e.g. the final fit). */
  step(label: string, total: number): ProgressStep;
  /** Prints a line, clearing any bar first. */
  line(text: string): void;
}

export interface ProgressOptions {
  /** Draw a bar in place. Default: the stream's isTTY. */
  readonly tty?: boolean;
  /** Bar width in characters. Default 24. */
  readonly width?: number;
}

function isTty(stream: NodeJS.WritableStream): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

export function createProgress(stream: NodeJS.WritableStream, options: ProgressOptions = {}): Progress {
  const tty = options.tty ?? isTty(stream);
  const width = options.width ?? 24;
  let barShown = false;
  const clear = (): void => {
    if (barShown) stream.write('\r\x1b[K');
    barShown = false;
  };
  return {
    line(text) {
      clear();
      stream.write(`${text}\n`);
    },
    step(label, total) {
      let ended = false;
      let lastTenth = -1;
      const counter = (done: number): string => (total > 0 ? ` ${done}/${total}` : '');
      return {
        update(done, note) {
          if (ended) return;
          const suffix = note === undefined ? '' : `  ${note}`;
          if (tty) {
            const frac = total > 0 ? Math.min(1, Math.max(0, done / total)) : 0;
            const filled = Math.round(frac * width);
            clear();
            stream.write(
              `${label} [${'#'.repeat(filled)}${'.'.repeat(width - filled)}]${counter(done)}${suffix}`,
            );
            barShown = true;
            return;
          }
          // Plain output: one line per tenth of progress (and the last unit), never a flood.
          const tenth = total > 0 ? Math.floor((done / total) * 10) : 0;
          if (tenth === lastTenth && done !== total) return;
          lastTenth = tenth;
          stream.write(`${label}${counter(done)}${suffix}\n`);
        },
        end(note) {
          if (ended) return;
          ended = true;
          clear();
          stream.write(`${label}: done${note === undefined ? '' : ` (${note})`}\n`);
        },
      };
    },
  };
}
