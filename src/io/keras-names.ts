/**
 * The names bn-check gives the variables of a Keras weights file, `<layer>/<variable>`, from the
 * layout each Keras writes (sources: keras.ts). Each function returns name → HDF5 dataset path, in
 * the file's order, or null when the file is not in its layout.
 */
import { InputFileError } from "../core/errors.js";
import type { Hdf5File } from "./hdf5.js";

export type WeightPaths = Map<string, string>;

// ---- Keras 2 / tf.keras (and Keras 3's legacy .h5): layer_names and weight_names attributes ----

/**
 * `model.save("x.h5")` keeps the weights in `model_weights`, `save_weights("x.h5")` at the root;
 * either way the group has a `layer_names` attribute, each layer a group with `weight_names`
 * ("bn/gamma:0"), each weight a dataset at `<layer>/<weight name>`. Names drop the `:0`.
 */
export function legacyWeightPaths(file: Hdf5File): WeightPaths | null {
  const root = ["model_weights", ""].find(
    (path) => file.kind(path) === "group" && attributeList(file, path, "layer_names") !== undefined,
  );
  if (root === undefined) return null;
  const layers = attributeList(file, root, "layer_names")!;
  const found: [string, string, string][] = []; // name, layer, dataset path
  const within = (name: string) => (root === "" ? name : `${root}/${name}`);
  for (const layer of [
    ...layers,
    ...(file.kind(within("top_level_model_weights")) === "group" ? ["top_level_model_weights"] : []),
  ]) {
    const group = within(layer);
    if (file.kind(group) !== "group")
      throw new InputFileError(file.where, `lists the layer '${layer}' in layer_names but has no group for it`);
    for (const weight of attributeList(file, group, "weight_names") ?? []) {
      const path = `${group}/${weight}`;
      if (file.kind(path) !== "dataset")
        throw new InputFileError(
          file.where,
          `lists the weight '${weight}' of layer '${layer}' but holds no dataset for it`,
        );
      found.push([weight.replace(/:\d+$/, ""), layer, path]);
    }
  }
  return uniquelyNamed(found, file.where);
}

/**
 * A list-of-strings attribute, joined from its chunks when Keras split it (`weight_names0`,
 * `weight_names1`, …: save_attributes_to_hdf5_group, for lists above 64 KB). Undefined when absent.
 */
function attributeList(file: Hdf5File, path: string, name: string): string[] | undefined {
  let value = file.attribute(path, name);
  if (value === undefined && file.attribute(path, `${name}0`) !== undefined) {
    const chunks: unknown[] = [];
    for (let k = 0; file.attribute(path, `${name}${k}`) !== undefined; k++)
      chunks.push(...asArray(file.attribute(path, `${name}${k}`)));
    value = chunks;
  }
  if (value === undefined) return undefined;
  const list = asArray(value);
  if (!list.every((item) => typeof item === "string"))
    throw new InputFileError(
      file.where,
      `has a '${name}' attribute${path === "" ? "" : ` on ${path}`} that is not a list of strings`,
    );
  return list as string[];
}

function asArray(value: unknown): unknown[] {
  if (typeof value === "string") return [value];
  return Array.isArray(value) ? value : [value];
}

// ---- Keras 3: layers/<class_snake_case>/vars/<i> ----

/** A layer as config.json describes it, at the path Keras 3 saves its variables under. */
export interface ConfiguredLayer {
  readonly name: string | undefined;
  readonly className: string;
  readonly config: Readonly<Record<string, unknown>>;
}

/**
 * Keras 3's variable groups: every `vars` group with datasets, named after its layer
 * (`vars`' `name` attribute, Keras 3.6+; else config.json's layer at that path; else the path)
 * and its variables' numbers mapped to names where the layer's class says them.
 */
export function keras3WeightPaths(
  file: Hdf5File,
  configured: ReadonlyMap<string, ConfiguredLayer>,
): WeightPaths | null {
  const varsGroups = file.groupsUnder("").filter((path) => path === "vars" || path.endsWith("/vars"));
  if (varsGroups.length === 0) return null;
  const found: [string, string, string][] = [];
  for (const vars of varsGroups) {
    const owner = vars === "vars" ? "" : vars.slice(0, -"/vars".length);
    const keys = file
      .children(vars)
      .filter((key) => file.kind(`${vars}/${key}`) === "dataset")
      .sort(byNumber);
    if (keys.length === 0) continue;
    // Keras 2.13's .keras files say `_layer_checkpoint_dependencies` where later ones say `layers`.
    const layerPath = owner.replace(/(^|\/)_layer_checkpoint_dependencies(?=\/)/g, "$1layers");
    const layer = configured.get(layerPath);
    const isLayer = /(^|\/)layers\/[^/]+$/.test(layerPath);
    const attributeName = file.attribute(vars, "name");
    const label = !isLayer
      ? owner || "model"
      : typeof attributeName === "string" && attributeName !== ""
        ? attributeName
        : (layer?.name ?? layerPath.slice(layerPath.lastIndexOf("/") + 1));
    const variables = variableNames(keys, layer, layerPath, label);
    keys.forEach((key, i) => {
      found.push([`${label}/${variables?.[i] ?? `vars/${key}`}`, owner, `${vars}/${key}`]);
    });
  }
  return uniquelyNamed(found, file.where);
}

/** "0", "1", …, "10" in numeric order; other keys after them, by name. */
function byNumber(a: string, b: string): number {
  const [x, y] = [/^\d+$/.test(a) ? Number(a) : Infinity, /^\d+$/.test(b) ? Number(b) : Infinity];
  return x !== y ? x - y : a < b ? -1 : a > b ? 1 : 0;
}

/**
 * BatchNormalization.build creates gamma (if scale), beta (if center), moving_mean,
 * moving_variance, and with renorm moving_stddev, renorm_mean, renorm_stddev; save_own_variables
 * numbers trainable then non-trainable variables, which is that order. Without config.json, a
 * batch-norm group of exactly four variables is taken as the default scale=center=True layer.
 * Other layers, or a count that does not fit, keep their numbers.
 */
function variableNames(
  keys: readonly string[],
  layer: ConfiguredLayer | undefined,
  layerPath: string,
  label: string,
): string[] | null {
  if (!keys.every((key, i) => key === String(i))) return null;
  if (layer !== undefined) {
    if (layer.className !== "BatchNormalization") return null;
    const flag = (name: string, otherwise: boolean) =>
      typeof layer.config[name] === "boolean" ? (layer.config[name] as boolean) : otherwise;
    const names = [
      ...(flag("scale", true) ? ["gamma"] : []),
      ...(flag("center", true) ? ["beta"] : []),
      "moving_mean",
      "moving_variance",
      ...(flag("renorm", false) ? ["moving_stddev", "renorm_mean", "renorm_stddev"] : []),
    ];
    return names.length === keys.length ? names : null;
  }
  const container = layerPath.slice(layerPath.lastIndexOf("/") + 1);
  const looksLikeBatchNorm = /batch_norm/i.test(container) || /batch_norm/i.test(label);
  return looksLikeBatchNorm && keys.length === 4 ? ["gamma", "beta", "moving_mean", "moving_variance"] : null;
}

/**
 * config.json's layers at the paths Keras 3 saves them under: `layers/<name>`, where the name is
 * the snake-cased class name made unique in the model's layer order (saving_lib.py,
 * _save_container_state and _get_unique_name), nested models' layers below their own path.
 * InputLayers hold no variables and are left out (Sequential.layers leaves them out too).
 */
export function configuredLayers(config: unknown): Map<string, ConfiguredLayer> {
  const found = new Map<string, ConfiguredLayer>();
  const visit = (model: unknown, prefix: string, depth: number) => {
    const layers = objectField(objectField(model, "config"), "layers");
    if (!Array.isArray(layers) || depth > 16) return;
    const used = new Map<string, number>();
    for (const entry of layers) {
      const className = objectField(entry, "class_name");
      if (typeof className !== "string" || className === "InputLayer") continue;
      const config = objectField(entry, "config");
      const path = `${prefix}layers/${uniqueName(toSnakeCase(className), used)}`;
      const name = objectField(config, "name");
      found.set(path, {
        name: typeof name === "string" ? name : undefined,
        className,
        config: typeof config === "object" && config !== null ? (config as Record<string, unknown>) : {},
      });
      visit(entry, `${path}/`, depth + 1);
    }
  };
  visit(config, "", 0);
  return found;
}

function objectField(value: unknown, key: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[key]
    : undefined;
}

/** keras.src.utils.naming.to_snake_case: "BatchNormalization" → "batch_normalization", "ReLU" → "re_lu". */
export function toSnakeCase(name: string): string {
  return name
    .replace(/[^\p{L}\p{N}_]+/gu, "")
    .replace(/(.)([A-Z][a-z]+)/g, "$1_$2")
    .replace(/([a-z])([A-Z])/g, "$1_$2")
    .toLowerCase();
}

/** saving_lib._get_unique_name: the first `name`, then `name_1`, `name_2`, … */
function uniqueName(name: string, used: Map<string, number>): string {
  const count = used.get(name);
  used.set(name, count === undefined ? 0 : count + 1);
  return count === undefined ? name : `${name}_${count + 1}`;
}

// ---- Any HDF5 file ----

/** Every dataset by its HDF5 path, for an .h5 that is not in a Keras layout. */
export function datasetPaths(file: Hdf5File): WeightPaths {
  const paths = new Map<string, string>();
  for (const group of file.groupsUnder("")) {
    for (const child of file.children(group)) {
      const path = group === "" ? child : `${group}/${child}`;
      if (file.kind(path) === "dataset") paths.set(path, path);
    }
  }
  return paths;
}

/**
 * name → path; a name two variables would share (nested models with a layer name in common, a
 * file that repeats a weight name) becomes `<owner group>/<name>` for each of them.
 */
function uniquelyNamed(found: readonly (readonly [string, string, string])[], where: string): WeightPaths {
  const counts = new Map<string, number>();
  for (const [name] of found) counts.set(name, (counts.get(name) ?? 0) + 1);
  const paths = new Map<string, string>();
  for (const [name, owner, path] of found) {
    const unique = counts.get(name)! > 1 && owner !== "" ? `${owner}/${name}` : name;
    if (paths.has(unique))
      throw new InputFileError(where, `names two variables '${unique}' (${paths.get(unique)} and ${path})`);
    paths.set(unique, path);
  }
  return paths;
}
