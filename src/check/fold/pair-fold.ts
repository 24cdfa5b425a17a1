/**
 * Each BatchNorm's layer paired with its folded counterpart: by name where names survive the fold
 * (the same module or initializer name, a checkpoint's prefix, onnxruntime's `ConvBnFusion_W_`
 * prefix, the node's name or torch's `/scope/module/Conv` node path), otherwise by the arithmetic:
 * a folded W' belongs to W when W'/W is one number per output channel. Graph or key order breaks
 * ties: candidates after the last paired layer are tried first.
 */
import { channelMap, isChannelwiseMultiple } from "./fold-arithmetic.js";
import type { FoldLayer, FoldedLayer, FoldedModel } from "./fold-model.js";

export interface FoldPairing {
  readonly folded: FoldedLayer;
  /** How the pair was found, for the report. */
  readonly pairedBy: string;
}

/** Leading segments a checkpoint wraps names in (`module.` from DataParallel, `model.`, `state_dict.`). */
const MAX_PREFIX_SEGMENTS = 3;

/**
 * The one renaming that maps the unfused model's layer names onto the folded model's: none, a
 * prefix added (`module.`) or a prefix dropped, whichever finds the most layers. One rule for the
 * whole model, never a per-layer guess (`layer1.0.conv1` must not pair with a top-level `conv1`).
 */
export function prefixRule(convs: readonly string[], foldedNames: readonly string[]): (conv: string) => string {
  const present = new Set(foldedNames);
  const rules: ((conv: string) => string)[] = [(conv) => conv];
  const first = convs[0];
  if (first !== undefined) {
    for (const name of foldedNames) {
      if (name.endsWith(`.${first}`)) {
        const prefix = name.slice(0, -first.length);
        if (prefix.split(".").length - 1 <= MAX_PREFIX_SEGMENTS) rules.push((conv) => prefix + conv);
      }
    }
    const parts = first.split(".");
    for (let k = 1; k <= Math.min(MAX_PREFIX_SEGMENTS, parts.length - 1); k++) {
      const prefix = `${parts.slice(0, k).join(".")}.`;
      rules.push((conv) => (conv.startsWith(prefix) ? conv.slice(prefix.length) : conv));
    }
  }
  let best = rules[0];
  let bestCount = -1;
  for (const rule of rules) {
    const count = convs.filter((conv) => present.has(rule(conv))).length;
    if (count > bestCount) {
      best = rule;
      bestCount = count;
    }
  }
  return best;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, k) => dim === b[k]);
}

function pairByName(
  layer: FoldLayer,
  candidates: readonly FoldedLayer[],
  kind: FoldedModel["kind"],
  rename: (conv: string) => string,
): FoldPairing | undefined {
  const weightName = layer.weight.name;
  for (const folded of candidates) {
    if (folded.weight.name === `ConvBnFusion_W_${weightName}`)
      return { folded, pairedBy: "name (onnxruntime's ConvBnFusion_W_ prefix)" };
  }
  for (const folded of candidates) {
    if (folded.weight.name === weightName) return { folded, pairedBy: "name" };
  }
  if (kind === "state_dict") {
    const renamed = rename(layer.conv);
    for (const folded of candidates) {
      if (folded.name === renamed)
        return { folded, pairedBy: renamed === layer.conv ? "name" : "name (a checkpoint prefix differs)" };
    }
  }
  if (layer.convNode !== null && layer.convNode !== "") {
    for (const folded of candidates) if (folded.node === layer.convNode) return { folded, pairedBy: "node name" };
  }
  // torch.onnx.export names nodes by module path: /stage2/stage2.0/branch1/branch1.0/Conv.
  for (const folded of candidates) {
    if (folded.node?.split("/").includes(layer.conv)) return { folded, pairedBy: "node name (torch's module path)" };
  }
  return undefined;
}

/** A relative fit loose enough for any fold's rounding (float16's included), far tighter than two unrelated weights. */
const PROPORTIONAL = 2 ** -7;

function pairByArithmetic(
  layer: FoldLayer,
  candidates: readonly FoldedLayer[],
  after: number,
): FoldPairing | undefined {
  const weight = layer.weight.read();
  const channels = layer.mean.read().shape[0] ?? 0;
  const ordered = [...candidates.filter((c) => c.order > after), ...candidates.filter((c) => c.order <= after)];
  const axes = [...new Set([...layer.readings.map((r) => r.axis), 0, 1])].filter(
    (axis) => axis < weight.shape.length && weight.shape[axis] === channels,
  );
  for (const folded of ordered) {
    if (!sameShape(folded.shape, weight.shape)) continue;
    const values = folded.weight.read().data;
    if (
      axes.some((axis) =>
        isChannelwiseMultiple(values, weight.data, channelMap(weight.shape, axis), channels, PROPORTIONAL),
      )
    ) {
      return { folded, pairedBy: "arithmetic (W'/W constant per output channel)" };
    }
  }
  return undefined;
}

/** Pairs every layer it can; a layer left out has no counterpart in the folded model. */
export function pairFoldedLayers(layers: readonly FoldLayer[], folded: FoldedModel): Map<FoldLayer, FoldPairing> {
  const pairs = new Map<FoldLayer, FoldPairing>();
  const taken = new Set<FoldedLayer>();
  const free = () => folded.layers.filter((candidate) => !taken.has(candidate));
  const rename = prefixRule(
    layers.map((layer) => layer.conv),
    folded.layers.map((layer) => layer.name),
  );
  for (const layer of layers) {
    const pairing = pairByName(layer, free(), folded.kind, rename);
    if (pairing === undefined) continue;
    pairs.set(layer, pairing);
    taken.add(pairing.folded);
  }
  let after = -1;
  for (const layer of [...layers].sort((a, b) => a.order - b.order)) {
    const known = pairs.get(layer);
    if (known !== undefined) {
      after = known.folded.order;
      continue;
    }
    const pairing = pairByArithmetic(layer, free(), after);
    if (pairing === undefined) continue;
    pairs.set(layer, pairing);
    taken.add(pairing.folded);
    after = pairing.folded.order;
  }
  return pairs;
}
