/**
 * A whole ONNX model (ModelProto): its graph's nodes in stored order and its constant tensors
 * (initializers, Constant nodes' outputs, and Identity chains that lead to either), read without
 * running anything. `bn-check fold` finds Conv/ConvTranspose/Gemm/MatMul → BatchNormalization here.
 *
 * Decoded field by field with protobufjs's Reader (the field numbers of onnx/onnx.proto), as
 * `onnx-proto.ts` decodes a TensorProto: a tensor's bytes stay a view of the file until `read()`
 * converts them, so a model costs about its file once more, however many tensors it holds.
 * protobufjs's object conversion would build arrays of JS numbers for every float field first.
 */
import { closeSync, openSync, readSync, realpathSync, statSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, isAbsolute, join, sep } from "node:path";
import type { Reader } from "protobufjs";
import { InputFileError } from "../core/errors.js";
import type { Tensor } from "../core/tensor.js";
import { readFileBytes } from "./read-file.js";
import { decodeTensorProto } from "./onnx-proto.js";
import { tensorFromProto } from "./tensor-proto.js";

const require = createRequire(import.meta.url);

/** An attribute's value as ONNX stores it (AttributeProto): FLOAT, INT, STRING, FLOATS, INTS, STRINGS, TENSOR. */
export type OnnxAttribute = number | string | readonly number[] | readonly string[] | OnnxConstant;

export interface OnnxNode {
  /** NodeProto.name; may be empty in real models. */
  readonly name: string;
  readonly opType: string;
  /** "" for the default ONNX domain. */
  readonly domain: string;
  /** Value names; "" marks an omitted optional input. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  readonly attributes: ReadonlyMap<string, OnnxAttribute>;
  /** Position in GraphProto.node (graph order breaks ties in pairing). */
  readonly index: number;
}

/** A constant value of the graph, decoded only when asked for. */
export interface OnnxConstant {
  /** The name it was stored under (an initializer's name, a Constant node's output). */
  readonly name: string;
  /** ONNX element type name: "float", "float16", "bfloat16", "double", "int64", … */
  readonly elementType: string;
  readonly shape: readonly number[];
  /**
   * Float types only (float, float16, bfloat16, double): the values; an
   * InputFileError otherwise. bfloat16 comes as float32 with `precision: "bfloat16"`.
   */
  read(): Tensor;
}

export interface OnnxModel {
  readonly path: string;
  /** The default domain's opset version (0 when the model declares none). */
  readonly opset: number;
  /** Every node of the main graph in stored order (Constant and Identity nodes included). */
  readonly nodes: readonly OnnxNode[];
  /** Names of the graph's initializers, in stored order. */
  readonly initializerNames: readonly string[];
  /**
   * The constant a value name resolves to: an initializer, a Constant node's output, or either behind Identity nodes.
   */
  constant(valueName: string): OnnxConstant | undefined;
  /** The node whose output this value is (undefined for graph inputs and initializers). */
  producer(valueName: string): OnnxNode | undefined;
  /** Nodes that read this value, in graph order. */
  consumers(valueName: string): readonly OnnxNode[];
}

/** TensorProto.DataType → the names ONNX's own helpers print. */
const ELEMENT_TYPES: Record<number, string> = {
  1: "float",
  2: "uint8",
  3: "int8",
  4: "uint16",
  5: "int16",
  6: "int32",
  7: "int64",
  8: "string",
  9: "bool",
  10: "float16",
  11: "double",
  12: "uint32",
  13: "uint64",
  14: "complex64",
  15: "complex128",
  16: "bfloat16",
};

/** Identity chains longer than this are refused as a cycle or an abuse (real exporters chain one or two). */
const MAX_IDENTITY_CHAIN = 64;

/** The fields of a TensorProto bn-check needs before reading it: found by a scan that copies nothing. */
interface TensorHeader {
  readonly name: string;
  readonly dims: number[];
  readonly dataType: number;
  readonly external: ReadonlyMap<string, string> | null;
}

type Fail = (problem: string) => never;

function protobufReader(bytes: Uint8Array): Reader {
  return (require("protobufjs") as typeof import("protobufjs")).Reader.create(bytes);
}

/** A 64-bit integer from protobufjs (a Long where the long package is present) as a number. */
function toNumber(value: number | { low: number; high: number }): number {
  if (typeof value === "number") return value;
  return value.high * 2 ** 32 + (value.low >>> 0);
}

/** The bytes of a length-delimited field, as a view (never a copy). */
function subMessage(reader: Reader, bytes: Uint8Array): Uint8Array {
  const length = reader.uint32();
  const start = reader.pos;
  if (length > reader.len - start) throw new RangeError(`a field of ${length} bytes runs past the end of its message`);
  reader.pos += length;
  return bytes.subarray(start, start + length);
}

function repeatedInt64(reader: Reader, wire: number, into: number[]): void {
  if (wire === 2) {
    const end = reader.uint32() + reader.pos;
    if (end > reader.len) throw new RangeError("a packed field runs past the end of its message");
    while (reader.pos < end) into.push(toNumber(reader.int64()));
  } else into.push(toNumber(reader.int64()));
}

function scanTensorHeader(bytes: Uint8Array): TensorHeader {
  const reader = protobufReader(bytes);
  let name = "";
  const dims: number[] = [];
  let dataType = 0;
  let location = 0;
  const external = new Map<string, string>();
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) repeatedInt64(reader, wire, dims);
    else if (field === 2) dataType = reader.int32();
    else if (field === 8) name = reader.string();
    else if (field === 13) {
      const entry = protobufReader(subMessage(reader, bytes));
      let key = "";
      let value = "";
      while (entry.pos < entry.len) {
        const entryTag = entry.uint32();
        if (entryTag >>> 3 === 1) key = entry.string();
        else if (entryTag >>> 3 === 2) value = entry.string();
        else entry.skipType(entryTag & 7);
      }
      external.set(key, value);
    } else if (field === 14) location = reader.int32();
    else reader.skipType(wire);
  }
  return { name, dims, dataType, external: location === 1 ? external : null };
}

interface RawAttribute {
  name: string;
  type: number;
  f: number;
  i: number;
  s: string;
  t: Uint8Array | null;
  floats: number[];
  ints: number[];
  strings: string[];
}

function decodeAttribute(bytes: Uint8Array): RawAttribute {
  const reader = protobufReader(bytes);
  const attribute: RawAttribute = { name: "", type: 0, f: 0, i: 0, s: "", t: null, floats: [], ints: [], strings: [] };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) attribute.name = reader.string();
    else if (field === 2) attribute.f = reader.float();
    else if (field === 3) attribute.i = toNumber(reader.int64());
    else if (field === 4) attribute.s = new TextDecoder().decode(subMessage(reader, bytes));
    else if (field === 5) attribute.t = subMessage(reader, bytes);
    else if (field === 7 && wire === 2) {
      const end = reader.uint32() + reader.pos;
      if (end > reader.len) throw new RangeError("a packed field runs past the end of its message");
      while (reader.pos < end) attribute.floats.push(reader.float());
    } else if (field === 7) attribute.floats.push(reader.float());
    else if (field === 8) repeatedInt64(reader, wire, attribute.ints);
    else if (field === 9) attribute.strings.push(new TextDecoder().decode(subMessage(reader, bytes)));
    else if (field === 20) attribute.type = reader.int32();
    else reader.skipType(wire);
  }
  return attribute;
}

interface RawNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: RawAttribute[];
}

function decodeNode(bytes: Uint8Array): RawNode {
  const reader = protobufReader(bytes);
  const node: RawNode = { name: "", opType: "", domain: "", inputs: [], outputs: [], attributes: [] };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) node.inputs.push(reader.string());
    else if (field === 2) node.outputs.push(reader.string());
    else if (field === 3) node.name = reader.string();
    else if (field === 4) node.opType = reader.string();
    else if (field === 5) node.attributes.push(decodeAttribute(subMessage(reader, bytes)));
    else if (field === 7) node.domain = reader.string();
    else reader.skipType(wire);
  }
  return node;
}

interface RawGraph {
  nodes: RawNode[];
  initializers: Uint8Array[];
  inputs: string[];
}

/** ValueInfoProto.name (field 1): the name of a graph input. */
function valueInfoName(bytes: Uint8Array): string {
  const reader = protobufReader(bytes);
  let name = "";
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 1) name = reader.string();
    else reader.skipType(tag & 7);
  }
  return name;
}

function decodeGraph(bytes: Uint8Array): RawGraph {
  const reader = protobufReader(bytes);
  const graph: RawGraph = { nodes: [], initializers: [], inputs: [] };
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1) graph.nodes.push(decodeNode(subMessage(reader, bytes)));
    else if (field === 5) graph.initializers.push(subMessage(reader, bytes));
    else if (field === 11) graph.inputs.push(valueInfoName(subMessage(reader, bytes)));
    else reader.skipType(wire);
  }
  return graph;
}

function decodeModel(bytes: Uint8Array): { graph: Uint8Array | null; opset: number; irVersion: number } {
  const reader = protobufReader(bytes);
  let graph: Uint8Array | null = null;
  let opset = 0;
  let irVersion = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    if (field === 1 && wire === 0) irVersion = toNumber(reader.int64());
    else if (field === 7 && wire === 2) graph = subMessage(reader, bytes);
    else if (field === 8 && wire === 2) {
      const entry = protobufReader(subMessage(reader, bytes));
      let domain = "";
      let version = 0;
      while (entry.pos < entry.len) {
        const entryTag = entry.uint32();
        if (entryTag >>> 3 === 1) domain = entry.string();
        else if (entryTag >>> 3 === 2) version = toNumber(entry.int64());
        else entry.skipType(entryTag & 7);
      }
      if (domain === "" || domain === "ai.onnx") opset = version;
    } else reader.skipType(wire);
  }
  return { graph, opset, irVersion };
}

/**
 * The side file of an external tensor, confined to the model's folder: no absolute path, no `..`,
 * and no link that leads outside (the folder and the file compared after resolving links).
 */
function readExternalBytes(modelPath: string, header: TensorHeader, fail: Fail): Uint8Array {
  const external = header.external as ReadonlyMap<string, string>;
  const location = external.get("location") ?? "";
  const tensor = `tensor '${header.name}'`;
  if (location === "") fail(`${tensor} keeps its data externally but names no location`);
  if (isAbsolute(location) || location.split(/[\\/]/).includes(".."))
    fail(`${tensor} keeps its data in '${location}', outside the model's folder: refused`);
  const folder = dirname(modelPath);
  const sidePath = join(folder, location);
  let resolved: string;
  try {
    resolved = realpathSync(sidePath);
  } catch {
    return fail(`${tensor} keeps its data in '${location}', which does not exist beside the model`);
  }
  const realFolder = realpathSync(folder);
  if (!resolved.startsWith(realFolder + sep))
    fail(`${tensor} keeps its data in '${location}', a link that leads outside the model's folder: refused`);
  const stats = statSync(resolved);
  if (!stats.isFile()) fail(`${tensor} keeps its data in '${location}', which is not a regular file`);
  const offset = Number(external.get("offset") ?? "0");
  const size = stats.size;
  const itemSize = ({ 1: 4, 10: 2, 11: 8, 16: 2 } as Record<number, number>)[header.dataType] ?? 1;
  const count = header.dims.reduce((product, dim) => product * dim, 1);
  const length = external.has("length") ? Number(external.get("length")) : Math.min(size - offset, count * itemSize);
  if (
    !Number.isSafeInteger(offset) ||
    offset < 0 ||
    !Number.isSafeInteger(length) ||
    length < 0 ||
    offset + length > size
  ) {
    fail(
      `${tensor}: offset ${external.get("offset") ?? 0} and length ` +
        `${external.get("length") ?? "(rest)"} do not lie within '${location}' (${size} bytes)`,
    );
  }
  if (length !== count * itemSize)
    fail(
      `${tensor}: '${location}' holds ${length} bytes for it; ` +
        `dims [${header.dims.join(", ")}] need ${count * itemSize}`,
    );
  const bytes = new Uint8Array(length);
  const fd = openSync(resolved, "r");
  try {
    let filled = 0;
    while (filled < length) {
      const read = readSync(fd, bytes, filled, length - filled, offset + filled);
      if (read === 0) fail(`${tensor}: '${location}' ended early`);
      filled += read;
    }
  } finally {
    closeSync(fd);
  }
  return bytes;
}

function constantOf(modelPath: string, name: string, message: Uint8Array, fail: Fail): OnnxConstant {
  const header = scanTensorHeader(message);
  if (header.dims.some((dim) => !Number.isSafeInteger(dim) || dim < 0))
    fail(`tensor '${name}' has invalid dims [${header.dims.join(", ")}]`);
  const elementType = ELEMENT_TYPES[header.dataType] ?? `type ${header.dataType}`;
  let cached: Tensor | null = null;
  return {
    name,
    elementType,
    shape: header.dims,
    read(): Tensor {
      if (cached !== null) return cached;
      let decoded: ReturnType<typeof decodeTensorProto>;
      try {
        decoded = decodeTensorProto(message);
      } catch (error) {
        return fail(`tensor '${name}' is not a valid TensorProto (${(error as Error).message})`);
      }
      const proto =
        header.external === null
          ? decoded
          : { ...decoded, dataLocation: 0, rawData: readExternalBytes(modelPath, header, fail) };
      try {
        cached = tensorFromProto(proto, `tensor '${name}'`);
      } catch (error) {
        if (error instanceof InputFileError) fail(`${error.file} ${error.problem}`);
        throw error;
      }
      return cached;
    },
  };
}

function attributeValue(modelPath: string, owner: string, attribute: RawAttribute, fail: Fail): OnnxAttribute {
  // AttributeProto.AttributeType: FLOAT 1, INT 2, STRING 3, TENSOR 4, FLOATS 6, INTS 7, STRINGS 8.
  switch (attribute.type) {
    case 1:
      return attribute.f;
    case 2:
      return attribute.i;
    case 3:
      return attribute.s;
    case 4:
      return constantOf(modelPath, owner, attribute.t ?? new Uint8Array(0), fail);
    case 6:
      return attribute.floats;
    case 7:
      return attribute.ints;
    case 8:
      return attribute.strings;
    default:
      // Older writers leave `type` unset: tell by the field that holds a value.
      if (attribute.t !== null) return constantOf(modelPath, owner, attribute.t, fail);
      if (attribute.ints.length > 0) return attribute.ints;
      if (attribute.floats.length > 0) return attribute.floats;
      if (attribute.strings.length > 0) return attribute.strings;
      if (attribute.s !== "") return attribute.s;
      return attribute.i !== 0 ? attribute.i : attribute.f;
  }
}

/**
 * A Constant node's value as a constant (its `value` tensor,
 * or a float scalar/list written as a tensor-free attribute).
 */
function constantNodeValue(node: OnnxNode, fail: Fail): OnnxConstant | undefined {
  const value = node.attributes.get("value");
  if (value !== undefined && typeof value === "object" && "read" in value)
    return { ...value, name: node.outputs[0] ?? value.name };
  const single = node.attributes.get("value_float");
  const many = node.attributes.get("value_floats");
  const values = typeof single === "number" ? [single] : Array.isArray(many) ? (many as number[]) : null;
  if (values === null) return undefined;
  const name = node.outputs[0] ?? "";
  return {
    name,
    elementType: "float",
    shape: typeof single === "number" ? [] : [values.length],
    read: () => {
      if (values.some((v) => typeof v !== "number")) fail(`Constant '${name}' holds non-numbers`);
      const data = new Float32Array(new SharedArrayBuffer(values.length * 4));
      data.set(values);
      return { dtype: "float32", shape: typeof single === "number" ? [] : [values.length], data };
    },
  };
}

/** Reads an ONNX model; an unreadable or dishonest file is an InputFileError naming it. */
export function readOnnxModel(path: string): OnnxModel {
  try {
    return indexModel(path);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    // A malformed message deep inside (an attribute's tensor, a node) is the file's fault too.
    throw new InputFileError(path, `is not a valid ONNX model (${(error as Error).message})`, { cause: error });
  }
}

/** The model and its graph decoded, or the file refused. */
function decodeModelFile(path: string, fail: Fail): { decoded: ReturnType<typeof decodeModel>; graph: RawGraph } {
  const bytes = readFileBytes(path);
  let decoded: ReturnType<typeof decodeModel>;
  let graph: RawGraph;
  try {
    decoded = decodeModel(bytes);
    if (decoded.graph === null) fail("is not an ONNX model (no graph: a ModelProto holds one in field 7)");
    graph = decodeGraph(decoded.graph as Uint8Array);
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    return fail(`is not a valid ONNX model (${(error as Error).message})`);
  }
  if (decoded.irVersion <= 0 && graph.nodes.length === 0 && graph.initializers.length === 0)
    fail("is not an ONNX model (no IR version, no nodes, no initializers)");
  return { decoded, graph };
}

/** The initializers by name (described now, decoded when read), in stored order. */
function indexInitializers(
  path: string,
  graph: RawGraph,
  fail: Fail,
): { constants: Map<string, OnnxConstant>; initializerNames: string[] } {
  const constants = new Map<string, OnnxConstant>();
  const initializerNames: string[] = [];
  for (const message of graph.initializers) {
    let header: TensorHeader;
    try {
      header = scanTensorHeader(message);
    } catch (error) {
      return fail(`has an initializer that is not a valid TensorProto (${(error as Error).message})`);
    }
    if (constants.has(header.name)) fail(`has two initializers named '${header.name}'`);
    constants.set(header.name, constantOf(path, header.name, message, fail));
    initializerNames.push(header.name);
  }
  return { constants, initializerNames };
}

/** The nodes, who produces each value (once only) and who consumes it; every value read must be defined. */
function indexNodes(path: string, graph: RawGraph, constants: ReadonlyMap<string, OnnxConstant>, fail: Fail) {
  const nodes: OnnxNode[] = [];
  const producers = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  graph.nodes.forEach((raw, index) => {
    const owner = raw.name !== "" ? raw.name : `${raw.opType} #${index}`;
    const attributes = new Map<string, OnnxAttribute>();
    for (const attribute of raw.attributes)
      attributes.set(attribute.name, attributeValue(path, owner, attribute, fail));
    const node: OnnxNode = {
      name: raw.name,
      opType: raw.opType,
      domain: raw.domain,
      inputs: raw.inputs,
      outputs: raw.outputs,
      attributes,
      index,
    };
    nodes.push(node);
    for (const output of raw.outputs) {
      if (output === "") continue;
      if (producers.has(output) || constants.has(output)) fail(`defines the value '${output}' twice (node ${owner})`);
      producers.set(output, node);
    }
    for (const input of raw.inputs) {
      if (input === "") continue;
      const list = consumers.get(input);
      if (list === undefined) consumers.set(input, [node]);
      else if (list[list.length - 1] !== node) list.push(node);
    }
  });
  // Every value a node reads must be defined: a graph input, an initializer or some node's output.
  const inputs = new Set(graph.inputs);
  for (const node of nodes) {
    for (const input of node.inputs) {
      if (input !== "" && !inputs.has(input) && !constants.has(input) && !producers.has(input)) {
        fail(
          `node ${node.name !== "" ? node.name : `${node.opType} #${node.index}`}` +
            ` reads '${input}', which no node, initializer or graph input defines`,
        );
      }
    }
  }
  return { nodes, producers, consumers };
}

function indexModel(path: string): OnnxModel {
  const fail: Fail = (problem) => {
    throw new InputFileError(path, problem);
  };
  const { decoded, graph } = decodeModelFile(path, fail);
  const { constants, initializerNames } = indexInitializers(path, graph, fail);
  const { nodes, producers, consumers } = indexNodes(path, graph, constants, fail);
  for (const node of nodes) {
    if (node.opType === "Constant" && node.domain === "" && node.outputs[0] !== undefined) {
      const value = constantNodeValue(node, fail);
      if (value !== undefined) constants.set(node.outputs[0], value);
    }
  }

  const constant = (valueName: string): OnnxConstant | undefined => {
    let name = valueName;
    for (let hops = 0; hops <= MAX_IDENTITY_CHAIN; hops++) {
      const found = constants.get(name);
      if (found !== undefined) return found;
      const producer = producers.get(name);
      if (producer === undefined || producer.opType !== "Identity" || producer.domain !== "") return undefined;
      name = producer.inputs[0] ?? "";
    }
    return fail(`has an Identity chain of more than ${MAX_IDENTITY_CHAIN} nodes at '${valueName}' (a cycle?)`);
  };

  return {
    path,
    opset: decoded.opset,
    nodes,
    initializerNames,
    constant,
    producer: (valueName) => producers.get(valueName),
    consumers: (valueName) => consumers.get(valueName) ?? [],
  };
}
