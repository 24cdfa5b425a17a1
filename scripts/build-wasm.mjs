#!/usr/bin/env node
// Assembles src/kernel/bn-kernel.wat into dist/kernel/bn-kernel.wasm with wabt (the WebAssembly
// Binary Toolkit's own wat2wasm, compiled to JavaScript), validating it with the SIMD and threads
// (shared memory) features that the kernel uses.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import createWabt from "wabt";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const source = join(root, "src", "kernel", "bn-kernel.wat");
const target = join(root, "dist", "kernel", "bn-kernel.wasm");
const features = { simd: true, threads: true };

const wabt = await createWabt();
let module;
try {
  module = wabt.parseWat("bn-kernel.wat", readFileSync(source, "utf8"), features);
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
