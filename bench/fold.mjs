// Whole-process `bn-check fold` on a ResNet-18 pair (a 47 MB state_dict and its 47 MB fold by torch's
// fuse_conv_bn_eval, written once into the bench folder) next to the Python check a user writes
// (bench/script-fold.py: torch.load both, fuse_conv_bn_weights per pair, torch.testing.assert_close),
// both from process start to exit, with peak RSS.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const bin = join(here, "..", "bin", "bn-check.cjs");

const MAKE = `
import sys, torch, torchvision, copy
from torch.nn.utils.fusion import fuse_conv_bn_eval
torch.manual_seed(1)
m = torchvision.models.resnet18().eval()
for mod in m.modules():
    if isinstance(mod, torch.nn.BatchNorm2d):
        mod.weight.data.uniform_(0.5, 1.5); mod.bias.data.uniform_(-0.5, 0.5)
        mod.running_mean.data.uniform_(-1, 1); mod.running_var.data.uniform_(0.05, 2)
torch.save(m.state_dict(), sys.argv[1])
f = copy.deepcopy(m)
def visit(parent):
    names = list(parent._modules); prev = None
    for n in names:
        c = parent._modules[n]
        if isinstance(c, torch.nn.BatchNorm2d) and isinstance(parent._modules.get(prev), torch.nn.Conv2d):
            parent._modules[prev] = fuse_conv_bn_eval(parent._modules[prev], c); parent._modules[n] = torch.nn.Identity()
        else:
            visit(c)
        prev = n
visit(f)
torch.save(f.state_dict(), sys.argv[2])
`;

/** Peak RSS (kB) and wall time (ms) of one run, via /usr/bin/time when present. */
function run(command, args) {
  const timed = existsSync("/usr/bin/time");
  const started = performance.now();
  const result = timed
    ? spawnSync("/usr/bin/time", ["-f", "%M", command, ...args], { encoding: "utf8", maxBuffer: 1 << 28 })
    : spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 28 });
  const ms = performance.now() - started;
  const rss = timed ? Number(result.stderr.trim().split("\n").at(-1)) : Number.NaN;
  return { ms, rssMb: rss / 1024, status: result.status, stdout: result.stdout, stderr: result.stderr };
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

export async function timeFold(python, work, { repeats = 5 } = {}) {
  const notes = [];
  const folder = join(work, "fold-resnet18");
  mkdirSync(folder, { recursive: true });
  const params = join(folder, "resnet18.pt");
  const folded = join(folder, "resnet18_fused.pt");
  if (!existsSync(folded)) {
    const made = spawnSync(python, ["-c", MAKE, params, folded], { encoding: "utf8" });
    if (made.status !== 0) return { rows: [], notes: [`fold bench skipped: ${made.stderr.trim().split("\n").at(-1)}`] };
  }
  const ours = [];
  const theirs = [];
  let oursRss = 0;
  let theirsRss = 0;
  // Alternate the two so that the machine's load falls on both alike; the ratio is taken per pair.
  const ratios = [];
  for (let r = 0; r < repeats; r++) {
    const a = run(process.execPath, [bin, "fold", "--params", params, "--folded", folded, "--format", "json"]);
    if (a.status !== 0)
      return { rows: [], notes: [`fold bench: bn-check fold exited ${a.status}: ${a.stderr.trim()}`] };
    const b = run(python, [join(here, "script-fold.py"), params, folded]);
    if (b.status !== 0) return { rows: [], notes: [`fold bench: script-fold.py exited ${b.status}`] };
    ours.push(a.ms);
    theirs.push(b.ms);
    ratios.push(a.ms / b.ms);
    oursRss = Math.max(oursRss, a.rssMb);
    theirsRss = Math.max(theirsRss, b.rssMb);
  }
  const spread = (values) => `${Math.min(...values).toFixed(0)}–${Math.max(...values).toFixed(0)}`;
  return {
    rows: [
      {
        what: "bn-check fold (ResNet-18, 20 layers, 2 × 47 MB)",
        "median ms": median(ours).toFixed(0),
        "min–max": spread(ours),
        "peak RSS MB": oursRss.toFixed(0),
      },
      {
        what: "Python: torch.load ×2, fuse_conv_bn_weights, assert_close",
        "median ms": median(theirs).toFixed(0),
        "min–max": spread(theirs),
        "peak RSS MB": theirsRss.toFixed(0),
      },
      {
        what: "ratio bn-check / Python (per pair)",
        "median ms": median(ratios).toFixed(3),
        "min–max": `${Math.min(...ratios).toFixed(3)}–${Math.max(...ratios).toFixed(3)}`,
        "peak RSS MB": "",
      },
    ],
    notes,
  };
}
