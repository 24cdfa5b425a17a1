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
  floatData: number[];
  int32Data: number[];
  name: string;
  rawData: Uint8Array;
  doubleData: number[];
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

export function decodeTensorProto(bytes: Uint8Array): TensorProtoMessage {
  const type = onnxRoot().lookupType("onnx.TensorProto");
  return type.toObject(type.decode(bytes), conversion) as TensorProtoMessage;
}

export function decodeModelProto(bytes: Uint8Array): ModelMessage {
  const type = onnxRoot().lookupType("onnx.ModelProto");
  return type.toObject(type.decode(bytes), conversion) as ModelMessage;
}
