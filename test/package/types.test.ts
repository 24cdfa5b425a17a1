// The package's type declarations, as a TypeScript user without the DOM lib sees them: lib ES2022,
// @types/node 20 and skipLibCheck off (WebAssembly types come only with the DOM lib).
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ROOT } from "../helpers.js";

describe("type declarations", () => {
  it("type-check in a consumer project with lib ES2022 and no skipLibCheck", () => {
    const dir = mkdtempSync(join(tmpdir(), "bn-check-types-"));
    try {
      const entry = join(ROOT, "dist", "index.js").replace(/\\/g, "/");
      writeFileSync(
        join(dir, "main.ts"),
        `import { batchNorm, checkBatchNorm, withTensorArena, TensorArena, kernelName, readNpy } from "${entry}";\n` +
          `const arena: TensorArena = new TensorArena();\n` +
          `export const used: number = arena.usedBytes;\n` +
          `export const names = [typeof batchNorm, typeof checkBatchNorm, ` +
          `typeof withTensorArena, kernelName(), typeof readNpy];\n`,
      );
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            target: "ES2022",
            module: "NodeNext",
            moduleResolution: "NodeNext",
            strict: true,
            lib: ["ES2022"],
            types: ["node"],
            typeRoots: [join(ROOT, "node_modules", "@types")],
            noEmit: true,
            skipLibCheck: false,
          },
          files: ["main.ts"],
        }),
      );
      const run = spawnSync(
        process.execPath,
        [join(ROOT, "node_modules", "typescript", "bin", "tsc"), "-p", join(dir, "tsconfig.json")],
        { encoding: "utf8" },
      );
      expect(run.stdout + run.stderr).toBe("");
      expect(run.status).toBe(0);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
