/**
 * Reads ONNX TensorProto files (the `input_*.pb` / `output_*.pb` of the ONNX backend node tests):
 * float16, float, double and bfloat16, from `raw_data` (little-endian) or the typed fields, with
 * `dims` as the shape. Reference: onnx/onnx.proto (TensorProto.DataType, field comments).
 */
import { InputFileError } from "../core/errors.js";
import { allocateShared, elementCount, type Tensor } from "../core/tensor.js";
import { decodeTensorProto, type TensorProtoMessage } from "./onnx-proto.js";
import { bfloat16FromBits, float16FromBits } from "../core/float16.js";

const DATA_TYPE_NAMES: Record<number, string> = {
  1: "FLOAT",
  2: "UINT8",
  3: "INT8",
  4: "UINT16",
  5: "INT16",
  6: "INT32",
  7: "INT64",
  8: "STRING",
  9: "BOOL",
  10: "FLOAT16",
  11: "DOUBLE",
  12: "UINT32",
  13: "UINT64",
  14: "COMPLEX64",
  15: "COMPLEX128",
  16: "BFLOAT16",
};

/**
 * Converts a decoded TensorProto to a tensor.
 * @param name - the source, for error messages.
 */
export function tensorFromProto(message: TensorProtoMessage, name: string): Tensor {
  const fail = (problem: string): never => {
    throw new InputFileError(name, problem);
  };
  if (message.dataLocation === 1)
    fail("keeps its data in an external file (data_location EXTERNAL), which bn-check does not read");
  const shape = message.dims.map(Number);
  if (shape.some((dim) => !Number.isSafeInteger(dim) || dim < 0)) fail(`has invalid dims [${shape.join(", ")}]`);
  const count = elementCount(shape);
  const typeName = DATA_TYPE_NAMES[message.dataType] ?? `type ${message.dataType}`;
  const raw = message.rawData ?? new Uint8Array(0);
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const expectBytes = (itemSize: number) => {
    if (raw.length !== count * itemSize)
      fail(`raw_data holds ${raw.length} bytes; dims [${shape.join(", ")}] of ${typeName} need ${count * itemSize}`);
  };
  const expectValues = (values: ArrayLike<number>, field: string) => {
    if (values.length !== count)
      fail(`${field} holds ${values.length} values; dims [${shape.join(", ")}] need ${count}`);
  };
  switch (message.dataType) {
    case 1:
    case 11: {
      // FLOAT and DOUBLE: little-endian raw_data, or the typed field.
      const double = message.dataType === 11;
      const dtype = double ? "float64" : "float32";
      // Sizes are checked before anything is allocated (dims may claim 2^40 elements).
      if (raw.length > 0) expectBytes(double ? 8 : 4);
      else expectValues(double ? message.doubleData : message.floatData, double ? "double_data" : "float_data");
      const data = allocateShared(dtype, count);
      if (raw.length > 0) {
        for (let i = 0; i < count; i++) data[i] = double ? view.getFloat64(i * 8, true) : view.getFloat32(i * 4, true);
      } else {
        data.set(double ? message.doubleData : message.floatData);
      }
      return { dtype, shape, data };
    }
    case 10:
    case 16: {
      // float16 and bfloat16 travel as 16-bit patterns, in raw_data or one per int32_data entry.
      const decode = message.dataType === 10 ? float16FromBits : bfloat16FromBits;
      if (raw.length > 0) expectBytes(2);
      else expectValues(message.int32Data, "int32_data");
      const data = allocateShared("float32", count);
      if (raw.length > 0) {
        for (let i = 0; i < count; i++) data[i] = decode(view.getUint16(i * 2, true));
      } else {
        for (let i = 0; i < count; i++) data[i] = decode(message.int32Data[i]);
      }
      return message.dataType === 10
        ? { dtype: "float16", shape, data }
        : { dtype: "float32", shape, data, precision: "bfloat16" };
    }
    default:
      return fail(`is a TensorProto of ${typeName}: bn-check checks FLOAT16, BFLOAT16, FLOAT and DOUBLE tensors`);
  }
}

export function parseTensorProtoBytes(bytes: Uint8Array, name: string): Tensor {
  let message: TensorProtoMessage;
  try {
    message = decodeTensorProto(bytes);
  } catch (error) {
    throw new InputFileError(name, `is not a valid ONNX TensorProto (${(error as Error).message})`, { cause: error });
  }
  return tensorFromProto(message, name);
}
