/**
 * Layouts and channel axes. A tensor is seen as `[outer, channels, inner]`: everything before the
 * channel axis, the channel axis, everything after it. NCHW and NHWC then differ only in `inner`.
 */
export const LAYOUTS = {
  NC: { rank: 2, channelAxis: 1 },
  NCL: { rank: 3, channelAxis: 1 },
  NLC: { rank: 3, channelAxis: 2 },
  NCHW: { rank: 4, channelAxis: 1 },
  NHWC: { rank: 4, channelAxis: 3 },
  NCDHW: { rank: 5, channelAxis: 1 },
  NDHWC: { rank: 5, channelAxis: 4 },
} as const;

export type LayoutName = keyof typeof LAYOUTS;
export const LAYOUT_NAMES = Object.keys(LAYOUTS) as LayoutName[];

/** The view of a tensor that the kernel works on. */
export interface Geometry {
  readonly outer: number;
  readonly channels: number;
  readonly inner: number;
}

/** An axis in `[0, rank)`, counting a negative one from the end; null when out of range. */
export function normalizeAxis(axis: number, rank: number): number | null {
  if (!Number.isInteger(axis) || axis < -rank || axis >= rank) return null;
  return axis < 0 ? axis + rank : axis;
}

/** `[outer, channels, inner]` for a shape and a channel axis in `[0, rank)`. */
export function geometryOf(shape: readonly number[], channelAxis: number): Geometry {
  let outer = 1;
  let inner = 1;
  for (let axis = 0; axis < channelAxis; axis++) outer *= shape[axis];
  for (let axis = channelAxis + 1; axis < shape.length; axis++) inner *= shape[axis];
  return { outer, channels: shape[channelAxis], inner };
}

/** A name for the layout a shape and axis form (`NCHW`, `NHWC`, …) or `axis k` when none fits. */
export function describeLayout(rank: number, channelAxis: number): string {
  for (const [name, layout] of Object.entries(LAYOUTS)) {
    if (layout.rank === rank && layout.channelAxis === channelAxis) return name;
  }
  return `rank ${rank}, channel axis ${channelAxis}`;
}
