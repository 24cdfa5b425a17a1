/**
 * Names the tensors of an unpickled torch.save object, wherever they sit:
 * - a state_dict's keys as they stand; nested dicts, lists and tuples joined with "."
 *   (`model.layer1.0.bn1.weight`, `optimizer.state.0.momentum_buffer`); a bare tensor `tensor`;
 * - a whole pickled nn.Module (a record whose state has `_parameters`, `_buffers` and `_modules`):
 *   named as `model.state_dict()` names them (`layer1.0.bn1.running_var`: parameters, then
 *   persistent buffers, then each child under its name), under the key path that holds it
 *   (`model.layer1.0.bn1.running_var` inside a checkpoint dict; `module.` for DataParallel);
 * - other records (argparse.Namespace, a Lightning callback's state): their state's attributes;
 * - numpy arrays pickled by numpy (`_reconstruct` + BUILD state): numeric ones by their path, read
 *   from the pickle's own bytes.
 * Leaves that are no tensors (ints, floats, strings, dtypes) get no name. A pickle can make a list
 * hold itself or share one list many times over: the walk stops at cycles and bounds its depth and
 * the number of values it visits.
 */
import { InputFileError } from "../core/errors.js";
import { PyFloat, PyObject } from "./pickle-vm.js";
import { TensorRecord, type TorchDType } from "./torch-pickle.js";

const MAX_DEPTH = 100;
const MAX_VISITS = 1_000_000;

/** A numeric numpy array held in the pickle itself (np.save'd state, a checkpoint's metric history). */
export class InlineArray {
  constructor(
    readonly dtype: TorchDType,
    readonly shape: readonly number[],
    readonly bytes: Uint8Array,
    readonly littleEndian: boolean,
    readonly fortranOrder: boolean,
  ) {
    Object.freeze(this);
  }
}

export type NamedTensor = TensorRecord | InlineArray;

/** What was walked past: entries that are no tensors, for `--debug` and for "holds no tensor" errors. */
export interface TorchContents {
  readonly tensors: Map<string, NamedTensor>;
  /** Paths of leaves that are no tensors, with what they are (the first MAX_SKIPPED). */
  readonly skipped: readonly string[];
  /** The root's kind: "a dict of 12 entries", "a record of class argparse.Namespace", … */
  readonly root: string;
}

export function torchNames(root: unknown, path: string): Map<string, NamedTensor> {
  return torchContents(root, path).tensors;
}

export function torchContents(root: unknown, path: string): TorchContents {
  try {
    const skipped: string[] = [];
    return { tensors: walkNames(root, path, skipped), root: describe(root), skipped };
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(path, `data.pkl holds values bn-check cannot walk (${(error as Error).message})`);
  }
}

/** A value in a few words, for messages. */
export function describe(value: unknown): string {
  if (value instanceof PyObject) return `a record of class ${value.global}`;
  if (value instanceof Map) return `a dict of ${value.size} entries`;
  if (Array.isArray(value)) return `a ${Object.isFrozen(value) ? "tuple" : "list"} of ${value.length} items`;
  if (value instanceof PyFloat) return "a float";
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  if (value === null) return "None";
  return `a ${typeof value}`;
}

/** The attributes of a record's BUILD state: a dict, or the dict of a (dict, slots) tuple. */
function attributes(object: PyObject): Map<unknown, unknown> | null {
  const { state } = object;
  if (state instanceof Map) return state;
  if (Array.isArray(state) && state[0] instanceof Map) return state[0];
  return null;
}

function isModule(attrs: Map<unknown, unknown> | null): boolean {
  return (
    attrs !== null &&
    attrs.get("_parameters") instanceof Map &&
    attrs.get("_buffers") instanceof Map &&
    attrs.get("_modules") instanceof Map
  );
}

const NUMPY_DTYPES: Readonly<Record<string, TorchDType>> = {
  f2: "float16",
  f4: "float32",
  f8: "float64",
  i1: "int8",
  i2: "int16",
  i4: "int32",
  i8: "int64",
  u1: "uint8",
  b1: "bool",
};

/**
 * numpy's pickle of an ndarray: _reconstruct(ndarray, (0,), b'b') with BUILD state
 * (version, shape, dtype, is_fortran, data bytes), the dtype itself dtype('f4', …) with BUILD state
 * (version, byteorder, …). Numeric arrays whose bytes match their shape become InlineArrays.
 */
function numpyArray(object: PyObject): InlineArray | null {
  if (!/^numpy\.(core|_core)\.multiarray\._reconstruct$/.test(object.global)) return null;
  const state = object.state;
  if (!Array.isArray(state) || state.length < 5) return null;
  const [, shape, dtype, fortran, data] = state;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) return null;
  if (!(dtype instanceof PyObject) || dtype.global !== "numpy.dtype" || !(data instanceof Uint8Array)) return null;
  const code = typeof dtype.args[0] === "string" ? dtype.args[0] : "";
  const torchDtype = NUMPY_DTYPES[code];
  if (torchDtype === undefined) return null;
  const order = Array.isArray(dtype.state) && typeof dtype.state[1] === "string" ? dtype.state[1] : "<";
  const count = shape.reduce((product: number, d: number) => product * d, 1);
  const itemBytes = Number(code.slice(1));
  if (count * itemBytes !== data.length) return null;
  return new InlineArray(torchDtype, shape as number[], data, order !== ">", fortran === true);
}

const MAX_SKIPPED = 1000;

function walkNames(root: unknown, path: string, skipped: string[] = []): Map<string, NamedTensor> {
  const names = new Map<string, NamedTensor>();
  if (root instanceof TensorRecord) return names.set("tensor", root);
  const open = new Set<unknown>();
  let visits = 0;
  const add = (name: string, tensor: NamedTensor) => {
    if (names.has(name))
      throw new InputFileError(path, `holds two tensors named '${name}' once nested keys are joined with "."`);
    names.set(name, tensor);
  };
  const join = (name: string, key: unknown) => (name === "" ? String(key) : `${name}.${key}`);
  const walk = (value: unknown, name: string, depth: number): void => {
    if (++visits > MAX_VISITS) throw new InputFileError(path, `holds more than ${MAX_VISITS} values in its data.pkl`);
    if (value instanceof TensorRecord) {
      add(name === "" ? "tensor" : name, value);
      return;
    }
    if (value === null || typeof value !== "object" || value instanceof PyFloat || value instanceof Uint8Array) {
      if (skipped.length < MAX_SKIPPED && name !== "") skipped.push(`${name} (${describe(value)})`);
      return;
    }
    if (open.has(value)) return;
    if (depth >= MAX_DEPTH) throw new InputFileError(path, `nests its values more than ${MAX_DEPTH} deep`);
    open.add(value);
    if (value instanceof Map) {
      for (const [key, child] of value) {
        // Keys are strings in a state_dict and ints in an optimizer state; other keys name nothing.
        if (typeof key === "string" || typeof key === "number") walk(child, join(name, key), depth + 1);
      }
    } else if (Array.isArray(value)) {
      for (let index = 0; index < value.length; index++) walk(value[index], join(name, index), depth + 1);
    } else if (value instanceof PyObject) {
      walkObject(value, name, depth);
    }
    open.delete(value);
  };
  const walkObject = (object: PyObject, name: string, depth: number) => {
    const array = numpyArray(object);
    if (array !== null) {
      add(name === "" ? "array" : name, array);
      return;
    }
    const attrs = attributes(object);
    if (attrs !== null && isModule(attrs)) {
      // nn.Module.state_dict(): its parameters, its persistent buffers, then each child's, recursively.
      const skip = attrs.get("_non_persistent_buffers_set");
      const nonPersistent = new Set(Array.isArray(skip) ? skip : []);
      for (const [key, tensor] of attrs.get("_parameters") as Map<unknown, unknown>)
        if (typeof key === "string") walk(tensor, join(name, key), depth + 1);
      for (const [key, tensor] of attrs.get("_buffers") as Map<unknown, unknown>)
        if (typeof key === "string" && !nonPersistent.has(key)) walk(tensor, join(name, key), depth + 1);
      for (const [key, child] of attrs.get("_modules") as Map<unknown, unknown>)
        if (typeof key === "string") walk(child, join(name, key), depth + 1);
      return;
    }
    if (attrs !== null)
      for (const [key, child] of attrs)
        if (typeof key === "string" || typeof key === "number") walk(child, join(name, key), depth + 1);
    // The arguments it was called with (a foreign container built from tensors, `SomeRecord(t0, t1)`),
    // by position, when neither state nor items name them.
    if (attrs === null && object.items.length === 0) {
      for (let index = 0; index < object.args.length; index++) walk(object.args[index], join(name, index), depth + 1);
    }
    // A dict or list subclass keeps what SETITEMS/APPENDS gave it.
    object.items.forEach((item, index) => {
      if (Array.isArray(item) && item.length === 2 && (typeof item[0] === "string" || typeof item[0] === "number"))
        walk(item[1], join(name, item[0]), depth + 1);
      else walk(item, join(name, index), depth + 1);
    });
  };
  walk(root, "", 0);
  return names;
}
