// The layers of src/ and what each may import, read from the one line each folder's README.md states
// ("May import: core, kernel."), so that the rule people read is the rule `npm run lint` enforces.
const { readdirSync, readFileSync, statSync } = require("node:fs");
const { join } = require("node:path");

const SRC = join(__dirname, "src");
const layers = readdirSync(SRC).filter((name) => statSync(join(SRC, name)).isDirectory() && name !== "types");

function mayImport(layer) {
  const text = readFileSync(join(SRC, layer, "README.md"), "utf8");
  const line = /May import: ([^.\n]*)\./.exec(text);
  if (line === null) throw new Error(`src/${layer}/README.md does not say what the layer may import ("May import: a, b.")`);
  return line[1].startsWith("nothing") ? [] : line[1].split(",").map((name) => name.trim());
}

const forbidden = layers.map((layer) => {
  const allowed = new Set([layer, "types", ...mayImport(layer)]);
  const others = layers.filter((name) => !allowed.has(name));
  return {
    name: `layer-${layer}`,
    comment: `src/${layer} may import only ${[...allowed].filter((name) => name !== "types").join(", ")} (src/${layer}/README.md)`,
    severity: "error",
    from: { path: `^src/${layer}/` },
    to: { path: others.length === 0 ? "^$" : `^src/(${others.join("|")})/` },
  };
});

module.exports = {
  forbidden: [
    ...forbidden,
    { name: "no-circular", comment: "import cycles make the layers a lie", severity: "error", from: { path: "^src/" }, to: { circular: true } },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "^(dist|node_modules)/" },
    tsConfig: { fileName: "tsconfig.json" },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: { extensions: [".ts", ".cts", ".js", ".cjs"] },
  },
};
