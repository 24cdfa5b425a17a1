/**
 * Unpickles a PyTorch archive's data.pkl into data, never executing anything (pickle-vm.ts runs the
 * opcodes with a bounded cost each). The globals that make tensors — `_rebuild_tensor_v2`,
 * `_rebuild_parameter`, storage types, dtypes — map to functions of ours that only build frozen
 * records after checking every argument (sizes and strides must be Python ints: a float 4.0 is not
 * one); every other global (`argparse.Namespace`, numpy's `_reconstruct`, a model class of a whole
 * pickled nn.Module, even `posix.system`) becomes an inert record holding its name, arguments and
 * BUILD state, which torch-names.ts walks for tensors. Nothing a pickle says can become one of our
 * records except through those checked functions, and no prototype is taken from it.
 */
import { InputFileError } from "../core/errors.js";
import { PyFloat, PyGlobal, PyObject, runPickle } from "./pickle-vm.js";

/** The element types of PyTorch storages; bn-check reads the four float ones. */
export type TorchDType =
  | "float32"
  | "float64"
  | "float16"
  | "bfloat16"
  | "int64"
  | "int32"
  | "int16"
  | "int8"
  | "uint8"
  | "bool"
  | "complex64"
  | "complex128";

export const TORCH_ITEM_BYTES: Readonly<Record<TorchDType, number>> = {
  float32: 4,
  float64: 8,
  float16: 2,
  bfloat16: 2,
  int64: 8,
  int32: 4,
  int16: 2,
  int8: 1,
  uint8: 1,
  bool: 1,
  complex64: 8,
  complex128: 16,
};

/** `torch.<Name>Storage` → its element type. UntypedStorage holds bytes. */
const STORAGE_TYPES: Readonly<Record<string, TorchDType>> = {
  FloatStorage: "float32",
  DoubleStorage: "float64",
  HalfStorage: "float16",
  BFloat16Storage: "bfloat16",
  LongStorage: "int64",
  IntStorage: "int32",
  ShortStorage: "int16",
  CharStorage: "int8",
  ByteStorage: "uint8",
  BoolStorage: "bool",
  ComplexFloatStorage: "complex64",
  ComplexDoubleStorage: "complex128",
  UntypedStorage: "uint8",
};

/** `torch.float32` and the like, which a checkpoint may hold as values; kept as inert markers. */
const TORCH_DTYPE_NAMES = new Set([
  "float32",
  "float",
  "float64",
  "double",
  "float16",
  "half",
  "bfloat16",
  "int64",
  "long",
  "int32",
  "int",
  "int16",
  "short",
  "int8",
  "uint8",
  "bool",
  "complex64",
  "complex128",
]);

/** A storage a persistent id names: the member `data/<key>` of `numel` elements. */
export class StorageRef {
  constructor(
    readonly dtype: TorchDType,
    readonly key: string,
    readonly numel: number,
  ) {
    Object.freeze(this);
  }
}

/** A tensor as `torch._utils._rebuild_tensor_v2` would build it: a strided view of a storage. */
export class TensorRecord {
  constructor(
    readonly storage: StorageRef,
    readonly offset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
  ) {
    Object.freeze(this);
  }
}

/** A value that is in the allow-list but is no data (a storage type, a dtype). */
class Marker {
  constructor(readonly global: string) {
    Object.freeze(this);
  }
}
class StorageType {
  constructor(
    readonly global: string,
    readonly dtype: TorchDType,
  ) {
    Object.freeze(this);
  }
}

/** The globals bn-check gives a meaning (tensors, storages, dtypes); every other one is an inert record. */
export const ALLOWED_GLOBALS: readonly string[] = [
  "collections.OrderedDict",
  "torch._utils._rebuild_tensor_v2",
  "torch._utils._rebuild_parameter",
  "torch._utils._rebuild_parameter_with_state",
  ...Object.keys(STORAGE_TYPES).map((name) => `torch.${name}`),
  "torch.storage.UntypedStorage",
  ...[...TORCH_DTYPE_NAMES].map((name) => `torch.${name}`),
];

/** The value a pickle stands for: Maps, arrays, primitives, Uint8Arrays and our records and markers. */
export type PickleValue = unknown;

const MAX_RANK = 64;

export function unpickleTorch(bytes: Uint8Array, path: string): PickleValue {
  const fail = (problem: string): never => {
    throw new InputFileError(path, `data.pkl ${problem}`);
  };
  // Only what turns into tensors (and the inert markers around them) is ours; every other global
  // becomes an inert record (pickle-vm.ts), so a checkpoint's argparse.Namespace, numpy state or a
  // whole pickled nn.Module is data to walk, never code to run, and never a reason to refuse the file.
  const resolveGlobal = (module: string, name: string): unknown => {
    const global = `${module}.${name}`;
    if (global === "collections.OrderedDict") return (...args: unknown[]) => orderedDict(args, fail);
    if (global === "torch._utils._rebuild_tensor_v2") return (...args: unknown[]) => rebuildTensor(args, fail);
    if (global === "torch._utils._rebuild_parameter" || global === "torch._utils._rebuild_parameter_with_state")
      return (data: unknown, ...rest: unknown[]) =>
        data instanceof TensorRecord ? data : new PyObject(global, [data, ...rest]);
    // Protocol 2 (torch.save's) has no bytes opcode: Python 3 pickles bytes as _codecs.encode(text,
    // 'latin1') — numpy arrays' data among them. Turning that text back into bytes runs nothing.
    if (global === "_codecs.encode")
      return (text: unknown, encoding: unknown) =>
        typeof text === "string" && (encoding === "latin1" || encoding === "latin-1")
          ? latin1Bytes(text)
          : new PyObject(global, [text, encoding]);
    if (module === "torch" && name in STORAGE_TYPES) return new StorageType(global, STORAGE_TYPES[name]);
    if (global === "torch.storage.UntypedStorage") return new StorageType(global, "uint8");
    if (module === "torch" && TORCH_DTYPE_NAMES.has(name)) return new Marker(global);
    return undefined;
  };
  const resolvePersistent = (pid: unknown): StorageRef => {
    // ('storage', storage_type, key, location, numel), as torch.save's persistent_id writes it.
    if (!Array.isArray(pid) || pid.length !== 5 || pid[0] !== "storage")
      return fail("has a persistent id that is not ('storage', type, key, location, numel)");
    const [, type, key, , numel] = pid as unknown[];
    if (!(type instanceof StorageType))
      return fail("has a persistent id whose storage type is not a torch storage type");
    if (typeof key !== "string" || !/^[A-Za-z0-9_.-]{1,64}$/.test(key))
      return fail(`has a storage key ${shown(key)} that is not a member name`);
    if (!Number.isSafeInteger(numel) || (numel as number) < 0)
      return fail(`has storage ${key} with ${shown(numel)} elements`);
    return new StorageRef(type.dtype, key, numel as number);
  };
  try {
    return runPickle(bytes, { resolveGlobal, resolvePersistent });
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    return fail(`is not a pickle bn-check can read (${(error as Error).message})`);
  }
}

/** A value a pickle gave where another was expected, for a message: never a template's "undefined" or a TypeError. */
function shown(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value.slice(0, 40));
  if (typeof value === "number" || typeof value === "boolean") return String(value);
  if (value === null) return "None";
  if (Array.isArray(value)) return `a ${Object.isFrozen(value) ? "tuple" : "list"} of ${value.length} items`;
  if (value instanceof Map) return "a dict";
  if (value instanceof PyFloat) return `the float ${value.value}`;
  if (value instanceof PyObject) return `a record of class ${value.global}`;
  if (value instanceof PyGlobal) return `the global ${value.dotted}`;
  if (value instanceof Uint8Array) return `${value.length} bytes`;
  return `a ${typeof value === "object" ? "value" : typeof value}`;
}

function latin1Bytes(text: string): Uint8Array {
  const bytes = new Uint8Array(text.length);
  for (let k = 0; k < text.length; k++) bytes[k] = text.charCodeAt(k) & 0xff;
  return bytes;
}

/** OrderedDict() then SETITEMS, as torch.save writes it; or OrderedDict([(key, value), …]). */
function orderedDict(args: unknown[], fail: (problem: string) => never): Map<unknown, unknown> {
  const map = new Map<unknown, unknown>();
  if (args.length === 0) return map;
  const [pairs] = args;
  if (!Array.isArray(pairs)) return fail("builds an OrderedDict from something that is not a list of pairs");
  for (const pair of pairs) {
    if (!Array.isArray(pair) || pair.length !== 2)
      return fail("builds an OrderedDict from something that is not a list of pairs");
    map.set(pair[0], pair[1]);
  }
  return map;
}

function rebuildTensor(args: unknown[], fail: (problem: string) => never): TensorRecord {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  const [storage, offset, size, stride] = args;
  if (args.length < 4 || !(storage instanceof StorageRef))
    return fail("calls torch._utils._rebuild_tensor_v2 without a storage");
  if (!Number.isSafeInteger(offset) || (offset as number) < 0)
    return fail(`has a tensor with storage offset ${shown(offset)}`);
  const isDims = (value: unknown): value is number[] =>
    Array.isArray(value) && value.length <= MAX_RANK && value.every((dim) => Number.isSafeInteger(dim) && dim >= 0);
  if (!isDims(size)) return fail("has a tensor whose size is not a tuple of non-negative integers");
  if (!isDims(stride) || stride.length !== size.length)
    return fail(`has a tensor whose stride is not ${size.length} non-negative integers`);
  return new TensorRecord(storage, offset as number, [...size], [...stride]);
}
