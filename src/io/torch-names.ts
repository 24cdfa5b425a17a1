/**
 * Names the tensors of an unpickled torch.save object: a state_dict's keys as they stand, nested
 * dicts and lists joined with "." (`model.layer1.0.bn1.weight`, `optimizer.state.0.momentum_buffer`),
 * and a bare tensor `tensor`. Leaves that are no tensors (ints, floats, strings, dtypes) get no name.
 * A pickle can make a list hold itself or share one list many times over, so the walk stops at
 * cycles and bounds its depth and the number of values it visits. Its BUILD opcode can also set a
 * list's `length` or prototype (pickleparser assigns state onto lists): lists are walked by index
 * up to a checked length, and anything else that goes wrong is the file's fault, named as such.
 */
import { InputFileError } from "../errors.js";
import { TensorRecord } from "./torch-pickle.js";

const MAX_DEPTH = 100;
const MAX_VISITS = 1_000_000;

export function torchNames(root: unknown, path: string): Map<string, TensorRecord> {
  try {
    return walkNames(root, path);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(path, `data.pkl holds values bn-check cannot walk (${(error as Error).message})`);
  }
}

function walkNames(root: unknown, path: string): Map<string, TensorRecord> {
  const names = new Map<string, TensorRecord>();
  if (root instanceof TensorRecord) return names.set("tensor", root);
  const open = new Set<unknown>();
  let visits = 0;
  const walk = (value: unknown, name: string, depth: number): void => {
    if (++visits > MAX_VISITS) throw new InputFileError(path, `holds more than ${MAX_VISITS} values in its data.pkl`);
    if (value instanceof TensorRecord) {
      if (names.has(name)) throw new InputFileError(path, `holds two tensors named '${name}' once nested keys are joined with "."`);
      names.set(name, value);
      return;
    }
    const children = value instanceof Map ? [...Map.prototype.entries.call(value)] : Array.isArray(value) ? listItems(value, path) : null;
    if (children === null || open.has(value)) return;
    if (depth >= MAX_DEPTH) throw new InputFileError(path, `nests its values more than ${MAX_DEPTH} deep`);
    open.add(value);
    for (const [key, child] of children) {
      // Keys are strings in a state_dict and ints in an optimizer state; other keys name nothing.
      if (typeof key !== "string" && typeof key !== "number") continue;
      walk(child, name === "" ? String(key) : `${name}.${key}`, depth + 1);
    }
    open.delete(value);
  };
  walk(root, "", 0);
  return names;
}

function listItems(list: unknown[], path: string): [number, unknown][] {
  const { length } = list;
  if (!Number.isSafeInteger(length) || length > MAX_VISITS) throw new InputFileError(path, `data.pkl holds a list of ${length} items`);
  const items: [number, unknown][] = [];
  for (let index = 0; index < length; index++) items.push([index, list[index]]);
  return items;
}
