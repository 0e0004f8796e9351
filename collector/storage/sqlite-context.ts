// Shared state of one SQLite store: the connection and the interned lookups (devices, layouts, models,
// bin sets) that the writer, the compactor and the queries all resolve. Lookups are cached in memory; a
// write transaction that throws calls reset(), because a cached id may belong to a rolled-back row.

import type { SqliteDatabase } from '../../shared/platform/sqlite.ts';
import type { ModelRef } from '../../shared/mqtt/schemas.ts';
import type { BinEdges } from './rollup.ts';

export type LayoutKind = 'features' | 'classes';

export interface Layout {
  readonly id: number;
  readonly kind: LayoutKind;
  /** Feature pipeline id, or model name@version for class layouts; null when the sender gave none. */
  readonly pipeline: string | null;
  readonly names: readonly string[];
  /** name -> column, built on first use. */
  index?: Map<string, number>;
}

export class SqliteContext {
  readonly db: SqliteDatabase;
  readonly #deviceIds = new Map<string, number>();
  readonly #deviceNames = new Map<number, string>();
  readonly #layoutsByKey = new Map<string, number>();
  readonly #layouts = new Map<number, Layout>();
  readonly #modelsByKey = new Map<string, number>();
  readonly #models = new Map<number, ModelRef>();
  readonly #binSetsByKey = new Map<string, number>();
  readonly #binSets = new Map<number, BinEdges>();

  constructor(db: SqliteDatabase) {
    this.db = db;
  }

  reset(): void {
    this.#deviceIds.clear();
    this.#deviceNames.clear();
    this.#layoutsByKey.clear();
    this.#layouts.clear();
    this.#modelsByKey.clear();
    this.#models.clear();
    this.#binSetsByKey.clear();
    this.#binSets.clear();
  }

  /** The device's row id, or undefined when it was never seen. */
  findDevice(deviceId: string): number | undefined {
    let id = this.#deviceIds.get(deviceId);
    if (id === undefined) {
      id = this.db.get<{ id: number }>('SELECT id FROM devices WHERE device_id = ?', [deviceId])?.id;
      if (id !== undefined) this.#remember(deviceId, id);
    }
    return id;
  }

  /** The device's row id, inserting the device (first seen now) when new. Inside a write transaction. */
  device(deviceId: string, receivedMs: number): number {
    const found = this.findDevice(deviceId);
    if (found !== undefined) return found;
    const r = this.db.run('INSERT INTO devices (device_id, first_seen_ms, last_seen_ms) VALUES (?, ?, ?)', [
      deviceId,
      receivedMs,
      receivedMs,
    ]);
    const id = Number(r.lastInsertRowid);
    this.#remember(deviceId, id);
    return id;
  }

  deviceName(id: number): string {
    let name = this.#deviceNames.get(id);
    if (name === undefined) {
      name = this.db.get<{ device_id: string }>('SELECT device_id FROM devices WHERE id = ?', [
        id,
      ])?.device_id;
      if (name === undefined) throw new Error(`device row ${String(id)} is missing`);
      this.#remember(name, id);
    }
    return name;
  }

  #remember(deviceId: string, id: number): void {
    this.#deviceIds.set(deviceId, id);
    this.#deviceNames.set(id, deviceId);
  }

  layoutId(kind: LayoutKind, pipeline: string | null, names: readonly string[]): number {
    const namesJson = JSON.stringify(names);
    const key = `${kind}\n${pipeline ?? ''}\n${namesJson}`;
    let id = this.#layoutsByKey.get(key);
    if (id !== undefined) return id;
    this.db.run('INSERT OR IGNORE INTO layouts (kind, pipeline, names) VALUES (?, ?, ?)', [
      kind,
      pipeline ?? '',
      namesJson,
    ]);
    id = (
      this.db.get<{ id: number }>('SELECT id FROM layouts WHERE kind = ? AND pipeline = ? AND names = ?', [
        kind,
        pipeline ?? '',
        namesJson,
      ]) as { id: number }
    ).id;
    this.#layoutsByKey.set(key, id);
    return id;
  }

  layout(id: number): Layout {
    let l = this.#layouts.get(id);
    if (l === undefined) {
      const r = this.db.get<{ kind: LayoutKind; pipeline: string; names: string }>(
        'SELECT kind, pipeline, names FROM layouts WHERE id = ?',
        [id],
      );
      if (r === undefined) throw new Error(`layout ${String(id)} is missing`);
      l = {
        id,
        kind: r.kind,
        pipeline: r.pipeline === '' ? null : r.pipeline,
        names: JSON.parse(r.names) as string[],
      };
      this.#layouts.set(id, l);
    }
    return l;
  }

  column(layout: Layout, name: string): number | undefined {
    layout.index ??= new Map(layout.names.map((n, i) => [n, i]));
    return layout.index.get(name);
  }

  modelId(ref: ModelRef): number {
    const key = `${ref.name}\n${ref.version}`;
    let id = this.#modelsByKey.get(key);
    if (id !== undefined) return id;
    this.db.run('INSERT OR IGNORE INTO models (name, version) VALUES (?, ?)', [ref.name, ref.version]);
    id = (
      this.db.get<{ id: number }>('SELECT id FROM models WHERE name = ? AND version = ?', [
        ref.name,
        ref.version,
      ]) as {
        id: number;
      }
    ).id;
    this.#modelsByKey.set(key, id);
    return id;
  }

  model(id: number): ModelRef {
    let m = this.#models.get(id);
    if (m === undefined) {
      const r = this.db.get<{ name: string; version: string }>(
        'SELECT name, version FROM models WHERE id = ?',
        [id],
      );
      if (r === undefined) throw new Error(`model ${String(id)} is missing`);
      m = { name: r.name, version: r.version };
      this.#models.set(id, m);
    }
    return m;
  }

  /** 0 = no histograms. */
  binSetId(edges: BinEdges | undefined): number {
    if (edges === undefined || edges.every((e) => e.length === 0)) return 0;
    const key = JSON.stringify(edges);
    let id = this.#binSetsByKey.get(key);
    if (id !== undefined) return id;
    this.db.run('INSERT OR IGNORE INTO bin_sets (edges) VALUES (?)', [key]);
    id = (this.db.get<{ id: number }>('SELECT id FROM bin_sets WHERE edges = ?', [key]) as { id: number }).id;
    this.#binSetsByKey.set(key, id);
    return id;
  }

  binSet(id: number): BinEdges | undefined {
    if (id === 0) return undefined;
    let e = this.#binSets.get(id);
    if (e === undefined) {
      const r = this.db.get<{ edges: string }>('SELECT edges FROM bin_sets WHERE id = ?', [id]);
      if (r === undefined) throw new Error(`bin set ${String(id)} is missing`);
      e = JSON.parse(r.edges) as number[][];
      this.#binSets.set(id, e);
    }
    return e;
  }

  getMeta(key: string): string | undefined {
    return this.db.get<{ value: string }>('SELECT value FROM meta WHERE key = ?', [key])?.value;
  }

  setMeta(key: string, value: string): void {
    this.db.run(
      'INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
      [key, value],
    );
  }
}
