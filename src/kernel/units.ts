/**
 * How a tensor is cut into units of work. Unit boundaries depend only on the geometry and a fixed
 * block size, never on the thread count: each unit's partial result is therefore the same whichever
 * thread computes it, and merging partials in unit order gives bit-identical results for any
 * number of threads. A unit is a box `[o0,o1) × [c0,c1) × [i0,i1)` of `[outer, channels, inner]`
 * holding about `blockElements` elements (64 KiB of float32 by default, so that a unit's second
 * pass reads from cache). Few channels with many elements each (C = 3, large N·H·W) still give
 * many units, so every thread stays busy.
 */
import type { Geometry } from "../core/layout.js";

export const DEFAULT_BLOCK_ELEMENTS = 16_384;

export interface UnitGrid {
  readonly geometry: Geometry;
  readonly innerChunk: number;
  readonly channelChunk: number;
  readonly outerChunk: number;
  readonly innerBlocks: number;
  readonly channelBlocks: number;
  readonly outerBlocks: number;
  readonly unitCount: number;
}

export interface UnitBox {
  o0: number;
  o1: number;
  c0: number;
  c1: number;
  i0: number;
  i1: number;
}

/**
 * Elements per unit when each (row, channel) holds a single value (channels-last data, inner = 1):
 * units there are whole rows (memory order), and each channel has one value per row, so a unit of
 * the default size over wide rows holds few values per channel; its per-unit partials would be a
 * large fraction of the data and their merge as slow as the pass. Larger units keep them small
 * (`npm run bench`, shape S3, shows the effect).
 */
export const ROW_BLOCK_ELEMENTS = 65_536;

export function planUnits(geometry: Geometry, blockElements: number = DEFAULT_BLOCK_ELEMENTS): UnitGrid {
  const { outer, channels, inner } = geometry;
  const innerChunk = Math.max(1, Math.min(inner, blockElements));
  const channelChunk = Math.max(1, Math.min(channels, Math.floor(blockElements / innerChunk)));
  const unitElements = inner === 1 && blockElements === DEFAULT_BLOCK_ELEMENTS ? ROW_BLOCK_ELEMENTS : blockElements;
  const outerChunk = Math.max(1, Math.floor(unitElements / (channelChunk * innerChunk)));
  const innerBlocks = Math.ceil(inner / innerChunk);
  const channelBlocks = Math.ceil(channels / channelChunk);
  const outerBlocks = Math.ceil(outer / outerChunk);
  return {
    geometry,
    innerChunk,
    channelChunk,
    outerChunk,
    innerBlocks,
    channelBlocks,
    outerBlocks,
    unitCount: innerBlocks * channelBlocks * outerBlocks,
  };
}

/**
 * Unit numbering is channel-block major, then outer block, then inner block, so that for any
 * channel the units that hold it, in increasing unit number, follow the C order of its elements.
 */
export function unitBox(grid: UnitGrid, unit: number, box: UnitBox): UnitBox {
  const innerBlock = unit % grid.innerBlocks;
  const rest = (unit - innerBlock) / grid.innerBlocks;
  const outerBlock = rest % grid.outerBlocks;
  const channelBlock = (rest - outerBlock) / grid.outerBlocks;
  const { outer, channels, inner } = grid.geometry;
  box.o0 = outerBlock * grid.outerChunk;
  box.o1 = Math.min(outer, box.o0 + grid.outerChunk);
  box.c0 = channelBlock * grid.channelChunk;
  box.c1 = Math.min(channels, box.c0 + grid.channelChunk);
  box.i0 = innerBlock * grid.innerChunk;
  box.i1 = Math.min(inner, box.i0 + grid.innerChunk);
  return box;
}

/** The first unit number of the units holding a channel; they follow at stride 1 for `outerBlocks·innerBlocks`. */
export function firstUnitOfChannel(grid: UnitGrid, channel: number): number {
  return Math.floor(channel / grid.channelChunk) * grid.outerBlocks * grid.innerBlocks;
}

export function emptyBox(): UnitBox {
  return { o0: 0, o1: 0, c0: 0, c1: 0, i0: 0, i1: 0 };
}
