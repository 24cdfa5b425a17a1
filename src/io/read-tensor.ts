/**
 * One entry point for every tensor source bn-check accepts, chosen by the file name:
 * `x.npy`; `x.npz` (its only array) or `x.npz:name`; `x.pb` (an ONNX TensorProto).
 */
import type { Tensor } from "../npy/tensor.js";
import { readNpy } from "../npy/read-npy.js";
import { readNpz } from "./npz.js";
import { readFileBytes } from "./read-file.js";
import { parseTensorProtoBytes } from "./tensor-proto.js";

export function readTensor(spec: string): Tensor {
  const member = /^(.*\.npz):([^:/\\]+)$/i.exec(spec);
  if (member !== null) return readNpz(member[1], member[2]);
  if (/\.npz$/i.test(spec)) return readNpz(spec);
  if (/\.pb$/i.test(spec)) return parseTensorProtoBytes(readFileBytes(spec), spec);
  return readNpy(spec);
}
