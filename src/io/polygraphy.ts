/**
 * Reads arrays from the JSON files NVIDIA Polygraphy writes: `polygraphy run --save-results`
 * (RunResults) and `--save-inputs` (a list of feed dicts, one per iteration). Format, from
 * Polygraphy's sources (NVIDIA/TensorRT tools/Polygraphy: polygraphy/json/serde.py,
 * polygraphy/comparator/struct.py): every encoded object carries `"polygraphy_class"` (older files:
 * a key `__polygraphy_encoded_<Class>` set to "polygraphy_serialized_json_type");
 * RunResults is `{"lst": [[runner_name, [IterationResult, ...]], ...]}`; an IterationResult is
 * `{"outputs": {name: array}, "runtime", "runner_name"}`; an array is an ndarray
 * `{"array": base64 of np.save's bytes}`, wrapped in a LazyArray (`LazyNumpyArray` before)
 * `{"values": ndarray}` since Polygraphy 0.45. A `Tensor` (`{"tensor": base64 of torch.save}`) is
 * refused by name, as is any other class.
 *
 * Names: an output (or input) name alone when one runner's one iteration holds it; otherwise
 * `<runner>/<iteration>/<output>` (`<iteration>/<input>` for --save-inputs), iterations counted
 * from 0. The full form is accepted for every array. Runner names hold "/" and ":"
 * (`trt-runner-N0-07/15/24-13:02:22`) and ONNX output names start with "/": names are looked up
 * whole, never split, and two arrays that would get the same name refuse the file.
 *
 * The JSON is parsed whole, so the file is limited to V8's longest string (2^29 - 24 characters,
 * some 380 MB of arrays once base64 is undone): past that, Node could not hold its text at all.
 * Opening checks the structure field by field; `read` checks the base64 of the array asked for
 * (only that one, as only that one is decoded), decodes it and
 * parses its .npy bytes with the .npy reader's checks.
 */
import { InputFileError } from "../core/errors.js";
import { readFully, withOpenFile } from "./read-file.js";
import { parseNpyBytes } from "./npy/read-npy.js";
import { npyScalarInteger } from "./npy/read-npy-integer.js";
import type { Tensor } from "../core/tensor.js";
import { type ArchiveFormat, checkedName, onlyTensorName, type TensorArchive } from "./archive.js";
import { jsonCostProblem, type JsonLimits } from "./json-costs.js";

/** V8's String::kMaxLength on 64-bit platforms: no longer text can be decoded, let alone parsed. */
const MAX_JSON_BYTES = 2 ** 29 - 24;
const LEGACY_MARKER = "polygraphy_serialized_json_type";
const LEGACY_PREFIX = "__polygraphy_encoded_";

interface Entry {
  /** Unique within the file: `<runner>/<iteration>/<output>` or `<iteration>/<input>`. */
  readonly fullName: string;
  readonly shortName: string;
  readonly base64: string;
}

/**
 * @param name - the array's name; optional when the file holds one array.
 * @throws InputFileError naming the file (and array) and what is wrong.
 */
export function readPolygraphy(path: string, name?: string): Tensor {
  const archive = openPolygraphy(path);
  return archive.read(name ?? onlyTensorName(archive, "arrays"));
}

export function openPolygraphy(path: string): TensorArchive {
  const entries = collectEntries(readJson(path), path);
  const counts = new Map<string, number>();
  for (const entry of entries) counts.set(entry.shortName, (counts.get(entry.shortName) ?? 0) + 1);
  const byName = new Map<string, Entry>();
  const names: string[] = [];
  const add = (name: string, entry: Entry) => {
    const other = byName.get(name);
    if (other !== undefined && other !== entry)
      throw new InputFileError(
        path,
        `holds two arrays that would both be named '${name}' (${other.fullName} and ${entry.fullName})`,
      );
    byName.set(name, entry);
  };
  for (const entry of entries) {
    const unique = counts.get(entry.shortName) === 1;
    names.push(unique ? entry.shortName : entry.fullName);
    add(entry.fullName, entry);
    if (unique) add(entry.shortName, entry);
  }
  const bytesOf = (name: string): [Uint8Array, string] => {
    const entry = byName.get(name) ?? byName.get(checkedName(archive, name, "array"))!;
    const where = `${path}:${name}`;
    // Buffer.from skips characters that are not base64; Polygraphy decodes with validate=True.
    if (!isBase64(entry.base64))
      throw new InputFileError(where, "has an 'array' that is not base64 (the np.save bytes Polygraphy writes)");
    return [Buffer.from(entry.base64, "base64"), where];
  };
  const archive: TensorArchive = {
    path,
    names,
    read: (name) => parseNpyBytes(...bytesOf(name)),
    readInteger: (name) => npyScalarInteger(...bytesOf(name)),
  };
  return archive;
}

export const polygraphyFormat: ArchiveFormat = {
  label: "Polygraphy JSON",
  extensions: [".json"],
  items: "arrays",
  open: openPolygraphy,
};

/**
 * What JSON.parse may build (json-costs.ts): Polygraphy's documents nest a few levels (a list of
 * runs, each a list of iterations, each a dict of encoded arrays), hold some seven values per array
 * (a LazyArray around an ndarray, their class markers, the iteration's runtime and runner name), and
 * name arrays and runners in at most a few hundred characters; the arrays are base64 inside strings.
 * Two million values are some 280,000 arrays; JSON.parse of that many empty objects takes 1.4 s.
 */
const MAX_NAME_CHARS = 4096;
const JSON_LIMITS: JsonLimits = {
  maxNesting: 64,
  maxValues: 2_000_000,
  maxKeyBytes: MAX_NAME_CHARS,
  notWhat: "not a Polygraphy JSON file",
};

function readJson(path: string): unknown {
  const text = withOpenFile(path, (fd, size) => {
    if (size > MAX_JSON_BYTES)
      throw new InputFileError(
        path,
        `is ${size} bytes: more than the ${MAX_JSON_BYTES} a JSON file can hold as one string in Node`,
      );
    const bytes = new Uint8Array(size);
    readFully(fd, bytes, 0, path);
    const problem = jsonCostProblem(bytes, JSON_LIMITS);
    if (problem !== null) throw new InputFileError(path, problem);
    try {
      return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    } catch {
      throw new InputFileError(path, "is not UTF-8 text: not a Polygraphy JSON file");
    }
  });
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InputFileError(path, `is not valid JSON (${(error as Error).message})`);
  }
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The Polygraphy class an encoded object declares (either marker), or undefined. */
function classOf(value: Json): string | undefined {
  if (typeof value.polygraphy_class === "string") return value.polygraphy_class;
  const legacy = Object.keys(value).find((key) => key.startsWith(LEGACY_PREFIX) && value[key] === LEGACY_MARKER);
  return legacy?.slice(LEGACY_PREFIX.length);
}

function collectEntries(root: unknown, path: string): Entry[] {
  const fail = (problem: string): never => {
    throw new InputFileError(path, problem);
  };
  const entries: Entry[] = [];
  if (Array.isArray(root)) {
    // --save-inputs: [{input name: array}, ...], one feed dict per iteration.
    root.forEach((feed, iteration) => {
      if (!isObject(feed)) fail(`has iteration ${iteration} that is not a feed dict (an object of name: array)`);
      for (const [name, value] of Object.entries(feed))
        entries.push({
          fullName: `${iteration}/${name}`,
          shortName: name,
          base64: arrayBase64(value, `iteration ${iteration}, input '${name}'`, fail),
        });
    });
    return entries;
  }
  if (!isObject(root))
    return fail("is neither Polygraphy RunResults (--save-results) nor a list of feed dicts (--save-inputs)");
  const rootClass = classOf(root);
  if (rootClass !== "RunResults")
    return fail(
      rootClass === undefined
        ? "is a JSON object without a polygraphy_class: not a Polygraphy results file"
        : `holds a Polygraphy ${rootClass}, not RunResults (--save-results)`,
    );
  if (!Array.isArray(root.lst)) return fail("has RunResults whose 'lst' is not a list");
  root.lst.forEach((pair: unknown, index: number) => {
    if (!Array.isArray(pair) || pair.length !== 2 || typeof pair[0] !== "string" || !Array.isArray(pair[1]))
      fail(`has RunResults entry ${index} that is not [runner name, [iteration results]]`);
    const [runner, iterations] = pair as [string, unknown[]];
    if (runner.length > MAX_NAME_CHARS)
      fail(
        `has RunResults entry ${index} whose runner name is ${runner.length.toLocaleString("en-US")} ` +
          `characters: names in Polygraphy files are at most ${MAX_NAME_CHARS}`,
      );
    iterations.forEach((result, iteration) => {
      const where = `runner '${runner}', iteration ${iteration}`;
      if (!isObject(result) || classOf(result) !== "IterationResult")
        fail(`has ${where} that is not an IterationResult`);
      const outputs = (result as Json).outputs;
      if (!isObject(outputs)) fail(`has ${where} whose 'outputs' is not an object of name: array`);
      for (const [name, value] of Object.entries(outputs as Json)) {
        entries.push({
          fullName: `${runner}/${iteration}/${name}`,
          shortName: name,
          base64: arrayBase64(value, `${where}, output '${name}'`, fail),
        });
      }
    });
  });
  return entries;
}

const BASE64_DIGITS = new Uint8Array(256);
for (const digit of "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
  BASE64_DIGITS[digit.charCodeAt(0)] = 1;

/**
 * Padded standard base64, as Python's b64encode writes it. The text is copied to bytes first: a
 * loop over a Uint8Array runs at one speed, one over a string's char codes 1x-5x slower depending
 * on how V8 holds the string (a regex: 3x).
 */
function isBase64(text: string): boolean {
  // Only ASCII may pass: latin1 below would keep just the low byte of a wider character.
  if (text.length % 4 !== 0 || Buffer.byteLength(text, "utf8") !== text.length) return false;
  const bytes = Buffer.from(text, "latin1");
  const end = text.endsWith("==") ? bytes.length - 2 : text.endsWith("=") ? bytes.length - 1 : bytes.length;
  for (let i = 0; i < end; i++) if (BASE64_DIGITS[bytes[i]] === 0) return false;
  return true;
}

/** The base64 text of an encoded array, unwrapping LazyArray; other classes are refused by name. */
function arrayBase64(value: unknown, where: string, fail: (problem: string) => never): string {
  for (let depth = 0; depth < 4 && isObject(value); depth++) {
    const kind = classOf(value);
    if (kind === "LazyArray" || kind === "LazyNumpyArray") {
      value = value.values;
      continue;
    }
    if (kind === "ndarray") {
      const text = value.array;
      if (typeof text !== "string") return fail(`has ${where} whose 'array' is not a string`);
      return text;
    }
    if (kind === "Tensor")
      return fail(
        `has ${where} saved as a torch.Tensor: bn-check reads NumPy ` +
          `arrays from Polygraphy files (run with NumPy outputs)`,
      );
    return fail(
      kind === undefined
        ? `has ${where} that is not an encoded array`
        : `has ${where} of Polygraphy class ${kind}, which bn-check does not read`,
    );
  }
  return fail(`has ${where} that is not an encoded array`);
}
