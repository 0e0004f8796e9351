// The retraining child process (issue 10 §2; docs/retraining.md): forked by the collector's retraining
// runner (collector/retrain/runner.ts). It waits for the parent's start message (job directory and the
// signing key), runs the job with firmware-sim's boards injected (the composition root may import both
// runtimes), reports progress over IPC, and exits. The parent does the registry push and alias moves.

import { runRetrainJob, type RetrainStartMessage, type RetrainWorkerMessage } from '../collector/index.ts';
import { firmwareSimLab } from './lab-simulator.ts';

function send(m: RetrainWorkerMessage): Promise<void> {
  return new Promise((resolve) => {
    if (process.send === undefined) {
      resolve();
      return;
    }
    process.send(m, undefined, {}, () => {
      resolve();
    });
  });
}

if (process.send === undefined) {
  process.stderr.write('retrain-worker runs as a child process of the collector only\n');
  process.exit(2);
}

// The parent going away (collector killed) must not leave a training orphan burning CPU.
process.on('disconnect', () => {
  process.exit(3);
});

process.once('message', (m: RetrainStartMessage) => {
  void (async () => {
    try {
      const r = await runRetrainJob(m.dir, {
        simulator: firmwareSimLab,
        signingKeyPem: m.signingKeyPem,
        onProgress: (progress) => {
          void send({ type: 'progress', progress });
        },
      });
      await send(r.ok ? { type: 'done' } : { type: 'failed', code: r.code, message: r.message });
      process.exit(0);
    } catch (err) {
      await send({
        type: 'failed',
        code: 'EDGELOOP_ERR_INTERNAL',
        message: (err as Error).stack ?? String(err),
      });
      process.exit(1);
    }
  })();
});
