/**
 * The exports of the WebAssembly SIMD kernel (bn-kernel.wat). Pointers are byte offsets into the
 * shared memory of the tensor arena the arrays live in; `stride` is the distance between runs in
 * bytes. Each function computes exactly what the JavaScript kernel computes for the same unit.
 */
export interface WasmKernel {
  stats_cols(src: number, rows: number, stride: number, len: number, count: number, out: number): void;
  stats_rows(src: number, rows: number, stride: number, width: number, count: number, out: number): void;
  normalize_cols(
    src: number,
    dst: number,
    rows: number,
    stride: number,
    len: number,
    shift: number,
    scale: number,
    offset: number,
  ): void;
  normalize_rows(
    src: number,
    dst: number,
    rows: number,
    stride: number,
    width: number,
    shifts: number,
    scales: number,
    offsets: number,
  ): void;
  /** Backward sums of one channel's runs (GRAD_RECORD_SIZE values at `out`); `scratch`: 384 bytes this call may use. */
  gradsums_cols(
    x: number,
    dy: number,
    rows: number,
    stride: number,
    len: number,
    mu: number,
    out: number,
    scratch: number,
  ): void;
  /** dx = ((x − mu)·b + d) + a·dy for one channel's runs; `wide`: 1 writes float64, 0 float32. */
  gradinput_cols(
    x: number,
    dy: number,
    dst: number,
    rows: number,
    stride: number,
    len: number,
    mu: number,
    a: number,
    b: number,
    d: number,
    wide: number,
  ): void;
  /**
   * The fused BN-and-compare of one unit: bn-kernel.wat's `compare_cols` on each of its `channels`
   * channels, one after another (the rule as compare-units.ts documents it). Runs are `stride` bytes
   * apart, values within a run `step` bytes apart; channel k's values start `channelBytes`·k bytes
   * (`channelIndexStep`·k elements) after channel 0's; its constants (shift, scale, offset and the
   * error model's b0..b3) are at `constants` + 8k in seven runs `runBytes` apart (kernel/abi.ts C_*),
   * its record is the k-th from `record`, its addend scale at `addendScales` + 8k (read only with an
   * addend: dy at `addend`, laid out as src). Starts the unit's worst list and histogram.
   */
  compare_unit(
    src: number,
    ref: number,
    rows: number,
    stride: number,
    len: number,
    step: number,
    indexStep: number,
    firstIndex: number,
    indexStride: number,
    channels: number,
    channelBytes: number,
    channelIndexStep: number,
    constants: number,
    runBytes: number,
    atol: number,
    rtol: number,
    equalNan: number,
    record: number,
    worst: number,
    histogram: number,
    addend: number,
    addendScales: number,
  ): void;
  /** Folds `count` diff records, `stride` bytes apart from `from` on, into the record at `into` (mergeDiffRecords). */
  merge_records(into: number, from: number, count: number, stride: number): void;
  /**
   * Each channel's diff records merged over its units in unit order, one record per channel at
   * `into` (mergeChannelDiffs): `chunk` channels per unit, `unitsPerChannel` units per channel.
   */
  merge_channel_records(records: number, channels: number, chunk: number, unitsPerChannel: number, into: number): void;
  /** The units' histograms added up bucket by bucket (mergeHistograms), HISTOGRAM_BUCKETS values at `into`. */
  sum_histograms(histograms: number, units: number, into: number): void;
}
