/**
 * Per-layer eps and momentum (`model --layer-options file.json`). A state_dict does not hold them,
 * and a model may mix them (a backbone at 1e-5 beside a head at 1e-3); a hook can dump them
 * beside the activations:
 *   {"eps": {"features.0.1": 0.001, …}, "momentum": {"features.0.1": 0.01, …}}
 * (`layer_eps` / `layer_momentum` are accepted too, as the reference corpus' case.json names them;
 * a momentum of null is PyTorch's cumulative average). A number instead of an object applies to
 * every layer; a layer the file does not name keeps the command's --eps/--momentum.
 */
import { InputFileError } from "../../core/errors.js";
import { readJsonFile } from "../../io/read-file.js";
import { listSome } from "../../core/format.js";

export interface LayerOptions {
  readonly eps: ReadonlyMap<string, number>;
  readonly momentum: ReadonlyMap<string, number | null>;
}

/** A per-layer options file is a few kB; a manifest-sized limit keeps a wrong file from being slurped. */
const MAX_BYTES = 16 * 1024 * 1024;

/** @param layers - the BatchNorm layers found: a name outside them is a typo, refused. */
export function readLayerOptions(path: string, layers: readonly string[]): LayerOptions {
  const json = readJsonFile(path, MAX_BYTES);
  if (typeof json !== "object" || json === null || Array.isArray(json))
    throw new InputFileError(
      path,
      'is not a JSON object of per-layer options ({"eps": {layer: x}, "momentum": {layer: x}})',
    );
  const given = json as Record<string, unknown>;
  const canonical = layerNameResolver(layers);
  // Per key: a number applies to every layer, an object to the layers it names (over the number).
  const mapOf = <T>(keys: readonly string[], valid: (value: unknown) => value is T, what: string): Map<string, T> => {
    const map = new Map<string, T>();
    for (const key of keys.filter((k) => k in given)) {
      const entries = given[key];
      if (valid(entries)) {
        for (const layer of layers) if (!map.has(layer)) map.set(layer, entries);
        continue;
      }
      if (typeof entries !== "object" || entries === null || Array.isArray(entries))
        throw new InputFileError(
          path,
          `'${key}' gives ${JSON.stringify(entries)?.slice(0, 40)}` +
            `: ${what}, or an object of layer names to such values`,
        );
      for (const [named, value] of Object.entries(entries as Record<string, unknown>)) {
        const layer = canonical(named);
        if (layer === undefined)
          throw new InputFileError(
            path,
            `'${key}' names '${named}', which is not one of the BatchNorm layers found (${listSome(layers)})`,
          );
        if (!valid(value))
          throw new InputFileError(
            path,
            `'${key}' gives layer '${named}' ${JSON.stringify(value)?.slice(0, 40)}: ${what}`,
          );
        map.set(layer, value);
      }
    }
    return map;
  };
  return {
    eps: mapOf(
      ["layer_eps", "eps"],
      (v): v is number => typeof v === "number" && v > 0 && Number.isFinite(v),
      "eps must be a finite number > 0",
    ),
    momentum: mapOf(
      ["layer_momentum", "momentum"],
      (v): v is number | null => v === null || (typeof v === "number" && v >= 0 && v <= 1),
      "momentum must be a number in [0, 1] or null",
    ),
  };
}

/**
 * A layer named as the parameters name it (`state_dict.module.fc.1`), or as hooks on the bare model
 * name it (`fc.1`): parameters saved from a wrapped model or inside a checkpoint carry a prefix every
 * layer shares, which the activations' names drop by the same rule (model-cases.ts, dumpedNames).
 */
export function layerNameResolver(layers: readonly string[]): (name: string) => string | undefined {
  const known = new Set(layers);
  const first = layers[0] ?? "";
  const prefixes: string[] = [];
  for (let end = first.indexOf("."); end > 0; end = first.indexOf(".", end + 1)) {
    const prefix = first.slice(0, end + 1);
    if (layers.every((layer) => layer.startsWith(prefix) && layer.length > prefix.length)) prefixes.push(prefix);
  }
  return (name) => {
    if (known.has(name)) return name;
    for (const prefix of prefixes) if (known.has(prefix + name)) return prefix + name;
    return undefined;
  };
}
