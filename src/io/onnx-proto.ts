/**
 * The few ONNX protobuf messages bn-check reads (TensorProto, and enough of ModelProto to find a
 * BatchNormalization node, its attributes and initializers), declared for protobufjs with the
 * field numbers of onnx/onnx.proto. Unknown fields are skipped by the decoder.
 */
import { createRequire } from "node:module";
import type { Root } from "protobufjs";

// protobufjs is loaded on first use: a CLI run that reads no .pb file does not pay for it.
const require = createRequire(import.meta.url);
let root: Root | null = null;

function onnxRoot(): Root {
  root ??= (require("protobufjs") as typeof import("protobufjs")).Root.fromJSON(ONNX_MESSAGES);
  return root;
}

const ONNX_MESSAGES = {
  nested: {
    onnx: {
      nested: {
        TensorProto: {
          fields: {
            dims: { rule: "repeated", type: "int64", id: 1 },
            dataType: { type: "int32", id: 2 },
            floatData: { rule: "repeated", type: "float", id: 4 },
            int32Data: { rule: "repeated", type: "int32", id: 5 },
            int64Data: { rule: "repeated", type: "int64", id: 7 },
            name: { type: "string", id: 8 },
            rawData: { type: "bytes", id: 9 },
            doubleData: { rule: "repeated", type: "double", id: 10 },
            dataLocation: { type: "int32", id: 14 },
          },
        },
        AttributeProto: {
          fields: {
            name: { type: "string", id: 1 },
            f: { type: "float", id: 2 },
            i: { type: "int64", id: 3 },
            type: { type: "int32", id: 20 },
          },
        },
        NodeProto: {
          fields: {
            input: { rule: "repeated", type: "string", id: 1 },
            output: { rule: "repeated", type: "string", id: 2 },
            opType: { type: "string", id: 4 },
            attribute: { rule: "repeated", type: "AttributeProto", id: 5 },
          },
        },
        ValueInfoProto: { fields: { name: { type: "string", id: 1 } } },
        GraphProto: {
          fields: {
            node: { rule: "repeated", type: "NodeProto", id: 1 },
            initializer: { rule: "repeated", type: "TensorProto", id: 5 },
            input: { rule: "repeated", type: "ValueInfoProto", id: 11 },
            output: { rule: "repeated", type: "ValueInfoProto", id: 12 },
          },
        },
        OperatorSetIdProto: { fields: { domain: { type: "string", id: 1 }, version: { type: "int64", id: 2 } } },
        ModelProto: {
          fields: {
            graph: { type: "GraphProto", id: 7 },
            opsetImport: { rule: "repeated", type: "OperatorSetIdProto", id: 8 },
          },
        },
      },
    },
  },
};

export interface TensorProtoMessage {
  dims: number[];
  dataType: number;
  floatData: ArrayLike<number>;
  int32Data: ArrayLike<number>;
  name: string;
  rawData: Uint8Array;
  doubleData: ArrayLike<number>;
  dataLocation: number;
}

export interface AttributeMessage {
  name: string;
  f?: number;
  i?: number;
  /** AttributeProto.AttributeType: 1 FLOAT, 2 INT, … (0 when absent). */
  type?: number;
}

export interface ModelMessage {
  graph?: {
    node: { input: string[]; output: string[]; opType: string; attribute: AttributeMessage[] }[];
    initializer: TensorProtoMessage[];
    input: { name: string }[];
    output: { name: string }[];
  };
  opsetImport: { domain: string; version: number }[];
}

const conversion = { longs: Number, arrays: true, defaults: true } as const;

/** A 64-bit integer from protobufjs (a Long where the long package is present) as a number. */
function toNumber(value: number | { low: number; high: number; unsigned?: boolean }): number {
  if (typeof value === "number") return value;
  return value.high * 2 ** 32 + (value.low >>> 0);
}

/** Little-endian numbers of a packed field, copied into a typed array (no array of JS numbers). */
function packedFloats(bytes: Uint8Array, start: number, length: number, size: 4 | 8): Float32Array | Float64Array {
  const count = Math.floor(length / size);
  const values = size === 4 ? new Float32Array(count) : new Float64Array(count);
  const view = new DataView(bytes.buffer, bytes.byteOffset + start, length);
  for (let i = 0; i < count; i++) values[i] = size === 4 ? view.getFloat32(i * 4, true) : view.getFloat64(i * 8, true);
  return values;
}

/**
 * A TensorProto decoded field by field with protobufjs's Reader: packed float and double data land
 * in typed arrays and raw_data stays a view of the file's bytes, so a tensor costs about its own size
 * once more (protobufjs's object conversion built arrays of JS numbers, twelve times the data).
 */
export function decodeTensorProto(bytes: Uint8Array): TensorProtoMessage {
  const { Reader } = require("protobufjs") as typeof import("protobufjs");
  const reader = Reader.create(bytes);
  const dims: number[] = [];
  let dataType = 0;
  let floatData: ArrayLike<number> = [];
  let doubleData: ArrayLike<number> = [];
  const int32Data: number[] = [];
  let name = "";
  let rawData: Uint8Array = new Uint8Array(0);
  let dataLocation = 0;
  const unpackedFloats: number[] = [];
  const unpackedDoubles: number[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    const field = tag >>> 3;
    const wire = tag & 7;
    const packed = wire === 2;
    const lengthThenEnd = () => {
      const length = reader.uint32();
      const start = reader.pos;
      if (start + length > reader.len) throw new Error(`field ${field} runs past the end of the message`);
      reader.pos += length;
      return { start, length };
    };
    if (field === 1) {
      if (packed) {
        const end = reader.uint32() + reader.pos;
        while (reader.pos < end) dims.push(toNumber(reader.int64()));
      } else dims.push(toNumber(reader.int64()));
    } else if (field === 2) dataType = reader.int32();
    else if (field === 4 && packed) {
      const { start, length } = lengthThenEnd();
      floatData = packedFloats(bytes, start, length, 4);
    } else if (field === 4) unpackedFloats.push(reader.float());
    else if (field === 5) {
      if (packed) {
        const end = reader.uint32() + reader.pos;
        while (reader.pos < end) int32Data.push(reader.int32());
      } else int32Data.push(reader.int32());
    } else if (field === 8) name = reader.string();
    else if (field === 9) {
      const { start, length } = lengthThenEnd();
      rawData = bytes.subarray(start, start + length);
    } else if (field === 10 && packed) {
      const { start, length } = lengthThenEnd();
      doubleData = packedFloats(bytes, start, length, 8);
    } else if (field === 10) unpackedDoubles.push(reader.double());
    else if (field === 14) dataLocation = reader.int32();
    else reader.skipType(wire);
  }
  if (unpackedFloats.length > 0) floatData = unpackedFloats;
  if (unpackedDoubles.length > 0) doubleData = unpackedDoubles;
  return { dims, dataType, floatData, int32Data, name, rawData, doubleData, dataLocation };
}

export function decodeModelProto(bytes: Uint8Array): ModelMessage {
  const type = onnxRoot().lookupType("onnx.ModelProto");
  return type.toObject(type.decode(bytes), conversion) as ModelMessage;
}
