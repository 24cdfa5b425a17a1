/**
 * Reads an ONNX backend node-test folder (`model.onnx` + `test_data_set_N/input_K.pb`,
 * `output_K.pb`) for a BatchNormalization node: its attributes, its inputs (from the data set or
 * the model's initializers) and its expected outputs.
 * Reference: onnx/backend/test/loader and runner (how node tests are laid out and fed).
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { InputFileError } from "../core/errors.js";
import type { Tensor } from "../core/tensor.js";
import { decodeModelProto, type ModelMessage } from "./onnx-proto.js";
import { readFileBytes } from "./read-file.js";
import { parseTensorProtoBytes, tensorFromProto } from "./tensor-proto.js";

export interface OnnxNodeTest {
  readonly epsilon: number;
  readonly momentum: number;
  readonly trainingMode: boolean;
  readonly opset: number;
  readonly input: Tensor;
  readonly weight: Tensor | null;
  readonly bias: Tensor | null;
  readonly runningMean: Tensor | null;
  readonly runningVar: Tensor | null;
  readonly reference: Tensor;
  readonly referenceRunningMean: Tensor | null;
  readonly referenceRunningVar: Tensor | null;
  readonly files: readonly { role: string; path: string; tensor: Tensor }[];
}

export function readOnnxNodeTest(dir: string, dataSet = "test_data_set_0"): OnnxNodeTest {
  const modelPath = join(dir, "model.onnx");
  let model: ModelMessage;
  try {
    model = decodeModelProto(readFileBytes(modelPath));
  } catch (error) {
    if (error instanceof InputFileError) throw error;
    throw new InputFileError(modelPath, `is not a valid ONNX model (${(error as Error).message})`, { cause: error });
  }
  const graph = model.graph;
  const nodes = graph?.node.filter((node) => node.opType === "BatchNormalization") ?? [];
  if (graph === undefined || nodes.length !== 1)
    throw new InputFileError(modelPath, `must hold exactly one BatchNormalization node (found ${nodes.length})`);
  const node = nodes[0];
  const attribute = (name: string) => node.attribute.find((a) => a.name === name);
  const opset = model.opsetImport.find((o) => o.domain === "" || o.domain === "ai.onnx")?.version ?? 0;

  const tensors = new Map<string, Tensor>();
  const files: { role: string; path: string; tensor: Tensor }[] = [];
  const initializerNames = new Set(graph.initializer.map((t) => t.name));
  for (const initializer of graph.initializer)
    tensors.set(initializer.name, tensorFromProto(initializer, `${modelPath}:${initializer.name}`));
  const feeds = graph.input.map((i) => i.name).filter((name) => !initializerNames.has(name));
  feeds.forEach((name, k) => {
    const path = join(dir, dataSet, `input_${k}.pb`);
    if (!existsSync(path)) throw new InputFileError(path, `is missing: the model's input '${name}' has no data`);
    const tensor = parseTensorProtoBytes(readFileBytes(path), path);
    tensors.set(name, tensor);
    files.push({ role: `input ${name}`, path, tensor });
  });
  const outputs = new Map<string, Tensor>();
  graph.output.forEach((output, k) => {
    const path = join(dir, dataSet, `output_${k}.pb`);
    if (!existsSync(path)) return;
    const tensor = parseTensorProtoBytes(readFileBytes(path), path);
    outputs.set(output.name, tensor);
    files.push({ role: `output ${output.name}`, path, tensor });
  });
  const byPosition = (names: string[], index: number, from: Map<string, Tensor>) =>
    names[index] ? (from.get(names[index]) ?? null) : null;
  const input = byPosition(node.input, 0, tensors);
  const reference = byPosition(node.output, 0, outputs);
  if (input === null) throw new InputFileError(dir, "has no data for the BatchNormalization input X");
  if (reference === null) throw new InputFileError(dir, "has no expected output Y (output_0.pb)");
  // Attributes are checked against their ONNX types (AttributeProto.type: FLOAT 1, INT 2).
  const typed = (name: string, type: 1 | 2) => {
    const found = attribute(name);
    if (found !== undefined && found.type !== undefined && found.type !== 0 && found.type !== type)
      throw new InputFileError(
        modelPath,
        `attribute ${name} has type ${found.type}; BatchNormalization needs ${type === 1 ? "FLOAT" : "INT"}`,
      );
    return found;
  };
  // training_mode exists from opset 14; the running statistics are outputs 1 and 2 then.
  const mode = Number(typed("training_mode", 2)?.i ?? 0);
  if (mode !== 0 && mode !== 1)
    throw new InputFileError(modelPath, `attribute training_mode is ${mode}; it must be 0 or 1`);
  const trainingMode = mode === 1;
  const epsilon = typed("epsilon", 1)?.f ?? 1e-5;
  const momentum = typed("momentum", 1)?.f ?? 0.9;
  if (!(epsilon > 0 && Number.isFinite(epsilon)))
    throw new InputFileError(modelPath, `attribute epsilon is ${epsilon}; it must be a finite number > 0`);
  if (!(momentum >= 0 && momentum <= 1))
    throw new InputFileError(modelPath, `attribute momentum is ${momentum}; it must be in [0, 1]`);
  return {
    epsilon,
    momentum,
    trainingMode,
    opset,
    input,
    weight: byPosition(node.input, 1, tensors),
    bias: byPosition(node.input, 2, tensors),
    runningMean: byPosition(node.input, 3, tensors),
    runningVar: byPosition(node.input, 4, tensors),
    reference,
    referenceRunningMean: trainingMode ? byPosition(node.output, 1, outputs) : null,
    referenceRunningVar: trainingMode ? byPosition(node.output, 2, outputs) : null,
    files,
  };
}
