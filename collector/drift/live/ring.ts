// A device's newest windows of the monitored features, in a fixed ring (STYLE.md habit 4: bounded):
// float32 per value (the pipeline's own dtype, so nothing is lost), NaN where the payload had null or the
// feature was missing. Feature-major, so one column is one contiguous run (two at the wrap). Memory:
// capacity × (4 × features + 16) bytes; 300 windows × 27 features ≈ 37 KB per device.

export class WindowRing {
  readonly capacity: number;
  readonly features: number;
  /** values[f * capacity + slot] */
  readonly values: Float32Array;
  /** Device time (tsMs) of each slot. */
  readonly tsMs: Float64Array;
  /** Index of the predicted label (MonitorLabels), -1 for none. */
  readonly label: Int16Array;
  /** Top-class probability, NaN for none. */
  readonly confidence: Float32Array;
  /** Slot the next window goes to. */
  private head = 0;
  size = 0;
  /** Windows ever pushed (a counter for "new since the last evaluation"). */
  pushed = 0;

  constructor(capacity: number, features: number) {
    this.capacity = capacity;
    this.features = features;
    this.values = new Float32Array(capacity * features);
    this.tsMs = new Float64Array(capacity);
    this.label = new Int16Array(capacity);
    this.confidence = new Float32Array(capacity);
  }

  /** Appends one window: `row` holds one value per monitored feature. */
  push(tsMs: number, row: ArrayLike<number>, label: number, confidence: number): void {
    const s = this.head;
    for (let f = 0; f < this.features; f++) this.values[f * this.capacity + s] = row[f] as number;
    this.tsMs[s] = tsMs;
    this.label[s] = label;
    this.confidence[s] = confidence;
    this.head = (s + 1) % this.capacity;
    if (this.size < this.capacity) this.size++;
    this.pushed++;
  }

  /** Slot of the i-th oldest window held (0 = oldest). */
  slot(i: number): number {
    return (this.head - this.size + i + this.capacity) % this.capacity;
  }

  /** Copies feature f's values, oldest first, into out (length >= size); returns out.subarray(0, size). */
  column(f: number, out: Float64Array): Float64Array {
    const base = f * this.capacity;
    for (let i = 0; i < this.size; i++) out[i] = this.values[base + this.slot(i)] as number;
    return out.subarray(0, this.size);
  }

  /** Device time span held, or null when empty. */
  span(): { fromMs: number; toMs: number } | null {
    if (this.size === 0) return null;
    return { fromMs: this.tsMs[this.slot(0)] as number, toMs: this.tsMs[this.slot(this.size - 1)] as number };
  }

  clear(): void {
    this.head = 0;
    this.size = 0;
  }
}
