// What the agent tells a person about its serial stream: one fixed message per kind of event, with what
// varies in the fields (docs/agent.md "Log"). noticeLine/readerLine give the same as one sentence, for
// commands that print to a terminal rather than log (`edgeloop demo`).

import type { LogFields, Logger } from '../../shared/platform/logger.ts';
import type { AgentConfig } from '../config.ts';
import type { IngestNotice } from '../ingest/pipeline.ts';
import type { ReaderState } from '../ingest/serial-reader.ts';

/** One log line per notice worth a person's attention (invalid frames are counted, not logged). */
export function noticeLine(n: IngestNotice): string | null {
  switch (n.kind) {
    case 'mode':
      return `stream mode: ${n.mode}`;
    case 'hello':
      return `${n.first ? 'device' : n.reboot ? 'device rebooted' : 'device re-announced'}: ${n.device.deviceId} firmware ${n.device.firmwareVersion}, protocol v${n.device.protocolVersion}, sensors ${n.device.sensors.map((s) => `${s.name}@${s.rateHz}Hz`).join(' ')}`;
    case 'frameGap':
      return `frame gap: ${n.missingFrames} frame(s) missing`;
    case 'sampleGap':
      return `sample gap: ${n.sensor} lost ${n.lost} sample(s)`;
    case 'invalidFrame':
      return null;
    case 'dropped':
      return `dropped: ${n.reason} [${n.code}]`;
    case 'status':
      return n.code === 0 ? null : `device status ${n.code} (${n.severity}): ${n.message}`;
  }
}

export function readerLine(serial: string, baud: number, s: ReaderState): string {
  if (s.kind === 'connected') return `serial ${serial} open at ${baud} baud`;
  if (s.kind === 'disconnected')
    return `serial ${serial} lost (${s.reason}) [EDGELOOP_ERR_SERIAL_LOST]; reconnecting`;
  return `${s.message} [${s.code}]; retrying in ${s.retryInMs} ms`;
}

/** Logs the serial reader's state changes: open (info), lost and open failures (warn, with the retry). */
export function logReaderState(log: Logger, config: AgentConfig, s: ReaderState): void {
  const port = { path: config.serial };
  if (s.kind === 'connected')
    log.info('serial port open', { ...port, baud: config.baud, attempt: s.attempt });
  else if (s.kind === 'disconnected')
    log.warn('serial port lost; reconnecting', {
      ...port,
      reason: s.reason,
      code: 'EDGELOOP_ERR_SERIAL_LOST',
    });
  else
    log.warn('serial port open failed; retrying', {
      ...port,
      code: s.code,
      detail: s.message,
      retryInMs: s.retryInMs,
    });
}

function noticeFields(n: IngestNotice): [string, LogFields] | null {
  switch (n.kind) {
    case 'mode':
      return ['stream mode detected', { mode: n.mode }];
    case 'hello':
      return [
        n.first ? 'device announced' : n.reboot ? 'device rebooted' : 'device re-announced',
        {
          deviceId: n.device.deviceId,
          firmwareVersion: n.device.firmwareVersion,
          protocolVersion: n.device.protocolVersion,
          sensors: n.device.sensors.map((s) => `${s.name}@${s.rateHz}Hz`).join(','),
        },
      ];
    case 'frameGap':
      return ['frame gap', { missingFrames: n.missingFrames }];
    case 'sampleGap':
      return ['sample gap', { sensor: n.sensor, lost: n.lost }];
    case 'status':
      return n.code === 0
        ? null
        : ['device status', { status: n.code, severity: n.severity, detail: n.message }];
    case 'invalidFrame':
    case 'dropped':
      return null;
  }
}

/**
 * Logs ingest notices. Invalid frames and drops are logged once (per code for drops), then only counted
 * (STYLE.md habit 4: log once when dropping starts; a board streaming before its HELLO would otherwise
 * log every frame). A board whose HELLO names another id than --device-id is logged once per name.
 */
export function noticeLogger(log: Logger, config: AgentConfig): (n: IngestNotice) => void {
  let invalidLogged = false;
  const droppedLogged = new Set<string>();
  const mismatched = new Set<string>();
  return (n) => {
    if (n.kind === 'invalidFrame') {
      if (!invalidLogged)
        log.warn('invalid frame (further invalid frames are counted, not logged)', {
          code: n.code,
          detail: n.message,
        });
      invalidLogged = true;
      return;
    }
    if (n.kind === 'dropped') {
      if (!droppedLogged.has(n.code))
        log.warn('frames dropped (further drops with this code are counted, not logged)', {
          code: n.code,
          reason: n.reason,
        });
      droppedLogged.add(n.code);
      return;
    }
    if (n.kind === 'hello' && config.deviceId !== '' && n.device.deviceId !== config.deviceId) {
      if (!mismatched.has(n.device.deviceId))
        log.warn('the board names itself differently; publishing under --device-id', {
          boardId: n.device.deviceId,
          deviceId: config.deviceId,
        });
      mismatched.add(n.device.deviceId);
    }
    const e = noticeFields(n);
    if (e !== null) log.info(e[0], e[1]);
  };
}
