import type { Convention } from "./convention.js";
import { flax } from "./flax.js";
import { keras3 } from "./keras.js";
import { onnx } from "./onnx.js";
import { tf, tfNn } from "./tensorflow.js";
import { torch } from "./torch.js";

/** Every preset `--framework` accepts, by name. `keras` is Keras 2 (`tf.keras`), i.e. `tf`. */
export const conventions = Object.freeze({
  torch,
  tf,
  keras: tf,
  keras3,
  "tf-nn": tfNn,
  onnx,
  flax,
} satisfies Record<string, Convention>);

export type FrameworkName = keyof typeof conventions;
export const FRAMEWORK_NAMES = Object.keys(conventions) as FrameworkName[];

export type { Convention } from "./convention.js";
