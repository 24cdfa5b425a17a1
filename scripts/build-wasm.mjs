#!/usr/bin/env node
// Assembles src/kernel/bn-kernel.wat into dist/kernel/bn-kernel.wasm with wabt (the WebAssembly
// Binary Toolkit's own wat2wasm, compiled to JavaScript), validating it with the SIMD and threads
// (shared memory) features that the kernel uses. Runs after tsc: the record layouts the kernel
// reads and writes come from the compiled layout module (kernel/abi.ts), filled into the .wat's
// `{{expression}}` placeholders, so the two kernels cannot disagree on where a field lives.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import createWabt from "wabt";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "kernel", "bn-kernel.wat");
const target = join(root, "dist", "kernel", "bn-kernel.wasm");
const features = { simd: true, threads: true };

// Every layout the kernels share is named in one module (src/kernel/abi.ts): its numbers fill the
// .wat's placeholders, and a placeholder naming anything else stops the build.
const abi = await import(new URL("../dist/kernel/abi.js", import.meta.url).href);
const LAYOUT = {
  ...Object.fromEntries(Object.entries(abi).filter(([, value]) => typeof value === "number")),
  LAST_FINITE_BUCKET: abi.HISTOGRAM_BUCKETS - 2,
};
// compare_cols keeps a block's pending histogram buckets (i32) in the call's record until it writes it.
if ((LAYOUT.LAST_FINITE_BUCKET + 1) * 4 > LAYOUT.DIFF_RECORD_SIZE * 8)
  throw new Error("build-wasm: the pending buckets do not fit in a diff record");
if (LAYOUT.SWEEP_BLOCK_GROUPS > 255)
  throw new Error("build-wasm: SWEEP_BLOCK_GROUPS above 255 overflows the byte counters");
// $fold_max stores a maximum's index in the field after it.
for (const field of ["D_MAX_ABS", "D_MAX_REL", "D_MAX_ULP", "D_MAX_BOUND_RATIO"]) {
  if (LAYOUT[`${field}_INDEX`] !== LAYOUT[field] + 1)
    throw new Error(`build-wasm: ${field}_INDEX must follow ${field}`);
}
const names = Object.keys(LAYOUT);
const fill = (text) =>
  text.replace(/\{\{([^}]+)\}\}/g, (_, expression) => {
    for (const name of expression.match(/[A-Z_][A-Z0-9_]*/g) ?? [])
      if (!(name in LAYOUT)) throw new Error(`build-wasm: unknown layout constant ${name} in {{${expression}}}`);
    const value = new Function(...names, `return (${expression});`)(...names.map((name) => LAYOUT[name]));
    if (!Number.isInteger(value) || value < 0)
      throw new Error(`build-wasm: {{${expression}}} is not a non-negative integer`);
    return String(value);
  });

const wabt = await createWabt();
let module;
try {
  module = wabt.parseWat("bn-kernel.wat", fill(readFileSync(source, "utf8")), features);
} catch (error) {
  // wabt's message names the line and column; its stack is the 2 MB line of its own bundle.
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
}
try {
  module.validate(features);
  const { buffer } = module.toBinary({ log: false, write_debug_names: true });
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, buffer);
} catch (error) {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
} finally {
  module.destroy();
}
