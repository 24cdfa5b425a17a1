// Seeded, structure-aware fuzzing of the PyTorch .pt reader (issue #22), through the path the CLI
// takes (archive-formats.ts: openTensorArchive, then every tensor read). The pickle inside the zip is
// parsed into opcodes and mutated as a pickle — opcodes replaced, length and argument fields of
// BINUNICODE/BINBYTES/LONG4/BININT/... rewritten to hostile values, storage keys, dtypes (storage
// types), sizes, strides and offsets changed, opcodes spliced, duplicated and cut — then re-zipped
// with valid CRCs so that the mutation reaches the pickle VM and the tensor builders; the zip itself
// is mutated too (local and central header fields, member names, compression method, a cut file),
// and storage members are resized. Every copy must end as tensors whose data length is the product
// of their shape, or as InputFileErrors that name the file in one line: never another exception.
//
// FUZZ_RUNS raises the number of runs (a local campaign: FUZZ_RUNS=20000), FUZZ_SEED changes the
// seed, FUZZ_RUN replays one run, and FUZZ_SIGNATURES=<file> writes one outcome line per run (to
// compare the outcomes of two versions of the reader for the same seed).
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { unzipSync, zipSync } from "fflate";
import { afterAll, describe, expect, it } from "vitest";
import { InputFileError } from "../../src/core/errors.js";
import { archiveFormatOf, openTensorArchive } from "../../src/io/archive-formats.js";
import { FIXTURES, seededRandom } from "../helpers.js";

const work = mkdtempSync(join(tmpdir(), "bn-check-pt-fuzz-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));

interface Seed {
  readonly name: string;
  readonly members: Record<string, Uint8Array>;
  readonly pickleName: string;
}

/** Every zip checkpoint among the fixtures (the legacy format is no zip; it is fuzzed as bytes). */
const SEEDS: Seed[] = [
  ...readdirSync(join(FIXTURES, "pt"))
    .filter((name) => /\.pth?$/.test(name) && name !== "legacy.pt")
    .map((name) => join(FIXTURES, "pt", name)),
  ...readdirSync(join(FIXTURES, "checkpoints"))
    .filter((name) => !name.endsWith(".npz"))
    .map((name) => join(FIXTURES, "checkpoints", name)),
].map((path) => {
  const members = unzipSync(readFileSync(path));
  const pickleName = Object.keys(members).find((name) => name.endsWith("/data.pkl"))!;
  return { name: path.slice(FIXTURES.length + 1), members, pickleName };
});
const LEGACY = readFileSync(join(FIXTURES, "pt", "legacy.pt"));

// ---- The pickle as opcodes ----

type Arg =
  | { kind: "none" }
  | { kind: "fixed"; bytes: number }
  | { kind: "counted"; width: 1 | 4 | 8 }
  | { kind: "lines"; count: number };

const ARGS = new Map<number, Arg>();
const none: Arg = { kind: "none" };
for (const op of [
  0x2e, 0x28, 0x30, 0x31, 0x32, 0x4e, 0x88, 0x89, 0x29, 0x74, 0x85, 0x86, 0x87, 0x5d, 0x6c, 0x61, 0x65, 0x7d, 0x64,
  0x73, 0x75, 0x8f, 0x90, 0x91, 0x94, 0x93, 0x52, 0x81, 0x92, 0x6f, 0x62, 0x51,
])
  ARGS.set(op, none);
for (const [op, bytes] of [
  [0x80, 1],
  [0x4b, 1],
  [0x71, 1],
  [0x68, 1],
  [0x4d, 2],
  [0x4a, 4],
  [0x72, 4],
  [0x6a, 4],
  [0x95, 8],
  [0x47, 8],
])
  ARGS.set(op, { kind: "fixed", bytes });
for (const op of [0x55, 0x8c, 0x43, 0x8a]) ARGS.set(op, { kind: "counted", width: 1 });
for (const op of [0x58, 0x42, 0x54, 0x8b]) ARGS.set(op, { kind: "counted", width: 4 });
for (const op of [0x8d, 0x8e, 0x96]) ARGS.set(op, { kind: "counted", width: 8 });
for (const op of [0x49, 0x4c, 0x46, 0x53, 0x56, 0x70, 0x67, 0x50]) ARGS.set(op, { kind: "lines", count: 1 });
for (const op of [0x63, 0x69]) ARGS.set(op, { kind: "lines", count: 2 });
const OPCODES = [...ARGS.keys()];

/** One opcode: its bytes [start, end), the argument's [argStart, end). */
interface Op {
  readonly op: number;
  readonly start: number;
  readonly argStart: number;
  readonly end: number;
}

/** The opcodes of a valid pickle (the fixtures' data.pkl), to the STOP. */
function parsePickle(bytes: Uint8Array): Op[] {
  const ops: Op[] = [];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  while (pos < bytes.length) {
    const op = bytes[pos];
    const arg = ARGS.get(op);
    if (arg === undefined) throw new Error(`fixture pickle has opcode ${op} at ${pos}`);
    const argStart = pos + 1;
    let end = argStart;
    if (arg.kind === "fixed") end += arg.bytes;
    else if (arg.kind === "counted") {
      const length =
        arg.width === 1
          ? bytes[argStart]
          : arg.width === 4
            ? view.getUint32(argStart, true)
            : Number(view.getBigUint64(argStart, true));
      end += arg.width + length;
    } else if (arg.kind === "lines")
      for (let k = 0; k < arg.count; k++) {
        end = bytes.indexOf(0x0a, end) + 1;
        if (end === 0) throw new Error(`pickle has a line without its end at ${pos}`);
      }
    if (end > bytes.length) throw new Error(`pickle ends inside opcode ${op} at ${pos}`);
    ops.push({ op, start: pos, argStart, end });
    pos = end;
    if (op === 0x2e) break;
  }
  return ops;
}

const concat = (...parts: Uint8Array[]): Uint8Array => Uint8Array.from(Buffer.concat(parts));
const encoder = new TextEncoder();

/** Hostile values for a length or an integer argument, as unsigned 64-bit words (cut to the field's width). */
function hostile(random: () => number, current: number): bigint {
  const choices = [
    0n,
    1n,
    2n,
    0x7fn,
    0x80n,
    0xffn,
    0x7fffn,
    0xffffn,
    0x7fffffffn,
    0x80000000n,
    0xffffffffn,
    0xfffffffen,
    2n ** 53n,
    2n ** 63n,
    2n ** 64n - 1n,
  ];
  const pick = random();
  if (pick < 0.3) return BigInt(Math.max(0, current + Math.floor(random() * 9) - 4));
  if (pick < 0.4) return BigInt(Math.floor(random() * 2 ** 32));
  return choices[Math.floor(random() * choices.length)];
}

function writeWord(bytes: Uint8Array, at: number, width: number, value: bigint): void {
  for (let k = 0; k < width; k++) bytes[at + k] = Number((value >> BigInt(8 * k)) & 0xffn);
}
function readWord(bytes: Uint8Array, at: number, width: number): number {
  let value = 0;
  for (let k = width - 1; k >= 0; k--) value = value * 256 + bytes[at + k];
  return value;
}

/** Strings the reader gives a meaning, and their near misses: storage keys, storage types, dtypes, globals. */
const STRINGS = [
  "storage",
  "0",
  "1",
  "99",
  "",
  "../0",
  "0\n",
  "a/b",
  "x".repeat(100),
  "FloatStorage",
  "HalfStorage",
  "BFloat16Storage",
  "DoubleStorage",
  "LongStorage",
  "BoolStorage",
  "ComplexDoubleStorage",
  "UntypedStorage",
  "QInt8Storage",
  "torch",
  "torch._utils",
  "_rebuild_tensor_v2",
  "_rebuild_parameter",
  "collections",
  "OrderedDict",
  "float16",
  "cpu",
  "weight",
  "__proto__",
  "constructor",
  "numpy.core.multiarray",
  "_reconstruct",
  "numpy",
  "dtype",
  "f8",
  "<",
  ">",
  "\u00ff\u00fe",
];

/** A string opcode (SHORT_BINUNICODE or BINUNICODE) holding `text`. */
function stringOp(text: string, random: () => number): Uint8Array {
  const utf8 = encoder.encode(text);
  if (utf8.length < 256 && random() < 0.5) return concat(Uint8Array.of(0x8c, utf8.length), utf8);
  const head = new Uint8Array(5);
  head[0] = 0x58;
  writeWord(head, 1, 4, BigInt(utf8.length));
  return concat(head, utf8);
}

/** An integer opcode: BININT1, BININT2, BININT or LONG1 holding `value`. */
function intOp(value: number, random: () => number): Uint8Array {
  if (value >= 0 && value < 256 && random() < 0.5) return Uint8Array.of(0x4b, value);
  if (value >= 0 && value < 65536 && random() < 0.5) return Uint8Array.of(0x4d, value & 0xff, value >> 8);
  if (value >= -(2 ** 31) && value < 2 ** 31 && random() < 0.7) {
    const bytes = Uint8Array.of(0x4a, 0, 0, 0, 0);
    new DataView(bytes.buffer).setInt32(1, value, true);
    return bytes;
  }
  const bytes = new Uint8Array(10);
  bytes.set([0x8a, 8]);
  new DataView(bytes.buffer).setBigInt64(2, BigInt(Math.trunc(value)), true);
  return bytes;
}

const INTS = [
  0,
  1,
  2,
  3,
  -1,
  -2,
  255,
  256,
  65535,
  2 ** 16,
  2 ** 28,
  2 ** 30,
  2 ** 31 - 1,
  -(2 ** 31),
  2 ** 32,
  2 ** 40,
  2 ** 53 - 1,
  -(2 ** 53),
  2 ** 60,
];

function pick<T>(random: () => number, items: readonly T[]): T {
  return items[Math.floor(random() * items.length)];
}

/** One structure-aware change of a pickle; the name of the change comes back for the statistics. */
function mutatePickle(pickle: Uint8Array, random: () => number): [string, Uint8Array] {
  const ops = parsePickle(pickle);
  const at = pick(random, ops);
  const before = pickle.subarray(0, at.start);
  const arg = ARGS.get(at.op)!;
  const kind = random();
  if (kind < 0.12) {
    // Another opcode in its place, the argument bytes left as they were.
    const bytes = pickle.slice();
    bytes[at.start] = random() < 0.8 ? pick(random, OPCODES) : Math.floor(random() * 256);
    return ["opcode", bytes];
  }
  if (kind < 0.3 && (arg.kind === "counted" || arg.kind === "fixed")) {
    // A length or argument field rewritten (a length past the end, negative, 2^53, 2^64 - 1, ...).
    const width = arg.kind === "counted" ? arg.width : Math.min(arg.bytes, 8);
    const bytes = pickle.slice();
    writeWord(bytes, at.argStart, width, hostile(random, readWord(bytes, at.argStart, width)));
    return ["field", bytes];
  }
  if (kind < 0.45) {
    // A string where a string or an int was: storage keys, storage types, dtypes, module names.
    const strings = ops.filter((op) => op.op === 0x8c || op.op === 0x58 || op.op === 0x55 || op.op === 0x54);
    const target = strings.length > 0 && random() < 0.8 ? pick(random, strings) : at;
    return [
      "string",
      concat(pickle.subarray(0, target.start), stringOp(pick(random, STRINGS), random), pickle.subarray(target.end)),
    ];
  }
  if (kind < 0.6) {
    // An integer rewritten: sizes, strides, offsets, numel, memo indices.
    const ints = ops.filter((op) => op.op === 0x4b || op.op === 0x4d || op.op === 0x4a || op.op === 0x8a);
    const target = ints.length > 0 && random() < 0.85 ? pick(random, ints) : at;
    const value = random() < 0.6 ? pick(random, INTS) : Math.floor(random() * 64);
    return ["int", concat(pickle.subarray(0, target.start), intOp(value, random), pickle.subarray(target.end))];
  }
  if (kind < 0.7) {
    // A run of opcodes copied elsewhere (or the same opcode twice).
    const from = pick(random, ops);
    const to = ops[Math.min(ops.length - 1, ops.indexOf(from) + Math.floor(random() * 6))];
    const insertAt = pick(random, ops).start;
    const run = pickle.subarray(from.start, to.end);
    const times = random() < 0.1 ? 1 + Math.floor(random() * 200) : 1;
    return [
      "splice",
      concat(pickle.subarray(0, insertAt), ...new Array<Uint8Array>(times).fill(run), pickle.subarray(insertAt)),
    ];
  }
  if (kind < 0.8) {
    // A run of opcodes removed.
    const to = ops[Math.min(ops.length - 1, ops.indexOf(at) + Math.floor(random() * 4))];
    return ["delete", concat(before, pickle.subarray(to.end))];
  }
  if (kind < 0.87) {
    // Cut at an opcode boundary or inside an argument.
    return ["cut", pickle.slice(0, random() < 0.5 ? at.start : at.start + Math.floor(random() * (at.end - at.start)))];
  }
  if (kind < 0.93) {
    // Opcodes a reader must refuse or bound: protocol 5 buffers, extensions, deep MARKs, a huge FRAME, BUILD onto a
    // list.
    const extra = pick(random, [
      Uint8Array.of(0x97),
      Uint8Array.of(0x98),
      Uint8Array.of(0x82, 1),
      Uint8Array.of(0x80, 9),
      new Uint8Array(5000).fill(0x28),
      new Uint8Array(3000).fill(0x5d),
      Uint8Array.of(0x95, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff),
      Uint8Array.of(0x5d, 0x7d, 0x8c, 6, ...encoder.encode("length"), 0x4a, 0xff, 0xff, 0xff, 0x7f, 0x73, 0x62),
      Uint8Array.of(0x68, 0x00),
      Uint8Array.of(0x31),
      Uint8Array.of(0x30),
      Uint8Array.of(0x2e),
    ]);
    return ["inject", concat(before, extra, pickle.subarray(at.start))];
  }
  // A few bytes anywhere.
  const bytes = pickle.slice();
  for (let k = 0; k < 1 + Math.floor(random() * 3); k++)
    bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
  return ["bytes", bytes];
}

// ---- The zip around it ----

/**
 * A fixed modification time: member headers (and so the outcomes
 * recorded by FUZZ_SIGNATURES) do not depend on the clock.
 */
const ZIP_TIME = new Date(2024, 0, 1);

/** Offsets of every local header and central directory entry, and of the end record, of a valid zip. */
function zipHeaders(bytes: Uint8Array): { locals: number[]; centrals: number[]; eocd: number } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const eocd = bytes.length - 22;
  const centrals: number[] = [];
  const locals: number[] = [];
  let at = view.getUint32(eocd + 16, true);
  for (let k = 0; k < view.getUint16(eocd + 10, true); k++) {
    centrals.push(at);
    locals.push(view.getUint32(at + 42, true));
    at += 46 + view.getUint16(at + 28, true) + view.getUint16(at + 30, true) + view.getUint16(at + 32, true);
  }
  return { locals, centrals, eocd };
}

/** Fields of a local header (offset, width) and of a central entry, and of the end record. */
const LOCAL_FIELDS: [number, number][] = [
  [0, 4],
  [6, 2],
  [8, 2],
  [14, 4],
  [18, 4],
  [22, 4],
  [26, 2],
  [28, 2],
];
const CENTRAL_FIELDS: [number, number][] = [
  [0, 4],
  [8, 2],
  [10, 2],
  [16, 4],
  [20, 4],
  [24, 4],
  [28, 2],
  [30, 2],
  [32, 2],
  [42, 4],
];
const EOCD_FIELDS: [number, number][] = [
  [8, 2],
  [10, 2],
  [12, 4],
  [16, 4],
  [20, 2],
];

function mutateZip(bytes: Uint8Array, random: () => number): [string, Uint8Array] {
  const { locals, centrals, eocd } = zipHeaders(bytes);
  const out = bytes.slice();
  const kind = random();
  if (kind < 0.3) {
    const [offset, width] = pick(random, LOCAL_FIELDS);
    writeWord(out, pick(random, locals) + offset, width, hostile(random, 0));
    return ["local", out];
  }
  if (kind < 0.6) {
    const [offset, width] = pick(random, CENTRAL_FIELDS);
    const at = pick(random, centrals);
    writeWord(
      out,
      at + offset,
      width,
      offset === 10
        ? BigInt(pick(random, [0, 1, 8, 9, 12, 14, 93, 99]))
        : hostile(random, readWord(out, at + offset, width)),
    );
    return ["central", out];
  }
  if (kind < 0.7) {
    const [offset, width] = pick(random, EOCD_FIELDS);
    writeWord(out, eocd + offset, width, hostile(random, readWord(out, eocd + offset, width)));
    return ["eocd", out];
  }
  if (kind < 0.8) {
    // A byte of a member name (central, local or both): a missing data.pkl, a storage under another key.
    const central = pick(random, centrals);
    const nameLength = readWord(out, central + 28, 2);
    if (nameLength > 0) {
      const k = Math.floor(random() * nameLength);
      const value = pick(random, [0x2f, 0x30, 0x31, 0x00, 0x0a, 0x2e, 0xff, 0x41]);
      out[central + 46 + k] = value;
      if (random() < 0.5) out[locals[centrals.indexOf(central)] + 30 + k] = value;
    }
    return ["name", out];
  }
  return ["cut", out.slice(0, Math.floor(random() * out.length))];
}

/** One mutated file: which mutation, and the bytes. */
function mutate(random: () => number): { seed: string; change: string; bytes: Uint8Array; extension: string } {
  if (random() < 0.02) {
    // The legacy format, cut or with a byte changed: refused by name.
    const bytes = LEGACY.slice(0, Math.floor(random() * (LEGACY.length + 1)));
    if (bytes.length > 0 && random() < 0.5) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    return { seed: "legacy.pt", change: "legacy", bytes, extension: ".pt" };
  }
  const seed = pick(random, SEEDS);
  const members: Record<string, Uint8Array> = { ...seed.members };
  const changes: string[] = [];
  const kind = random();
  if (kind < 0.6) {
    let pickle = members[seed.pickleName];
    for (let k = 0, count = 1 + Math.floor(random() * random() * 4); k < count; k++) {
      // Later changes parse the changed pickle: only as far as it still parses.
      try {
        const [change, bytes] = mutatePickle(pickle, random);
        changes.push(change);
        pickle = bytes;
      } catch {
        break;
      }
    }
    members[seed.pickleName] = pickle;
  } else if (kind < 0.72) {
    // A storage member resized, emptied or removed; or the byteorder / version member changed.
    const storages = Object.keys(members).filter((name) => name.includes("/data/"));
    const name = pick(random, storages.length > 0 ? storages : Object.keys(members));
    const data = members[name];
    const choice = random();
    if (choice < 0.15) delete members[name];
    else if (choice < 0.3) members[name] = data.subarray(0, Math.floor(random() * data.length));
    else if (choice < 0.45) members[name] = concat(data, new Uint8Array(1 + Math.floor(random() * 16)));
    else if (choice < 0.55)
      members[
        `${seed.pickleName.slice(0, -"data.pkl".length)}data/${pick(random, ["99", "0", "x", "a.b", "__proto__"])}`
      ] = data;
    else if (choice < 0.7)
      members[`${seed.pickleName.slice(0, -"data.pkl".length)}byteorder`] = encoder.encode(
        pick(random, ["big", "little", "middle", "", "big\n", "\u0000"]),
      );
    else if (choice < 0.8)
      members[`${seed.pickleName.slice(0, -"data.pkl".length)}constants.pkl`] = Uint8Array.of(0x80, 2, 0x29, 0x2e);
    else if (choice < 0.9) members[`other/data.pkl`] = members[seed.pickleName];
    else members[name] = new Uint8Array(data.length).map(() => Math.floor(random() * 256));
    changes.push("storage");
  }
  // Stored or deflated, as torch.save (stored) and re-zipping tools (deflated) write.
  const level = random() < 0.7 ? 0 : 6;
  let bytes: Uint8Array = zipSync(
    Object.fromEntries(Object.entries(members).map(([name, data]) => [name, [data, { level, mtime: ZIP_TIME }]])),
  );
  if (kind >= 0.72 || random() < 0.1) {
    const [change, mutated] = mutateZip(bytes, random);
    changes.push(`zip-${change}`);
    bytes = mutated;
  }
  const extension = pick(random, [".pt", ".pt", ".pth", ".bin", ".ckpt"]);
  return { seed: seed.name, change: changes.join("+") || "rezip", bytes, extension };
}

// ---- Reading every tensor through the CLI's path ----

const ENGINE_WORDS =
  /Cannot convert|is not a function|Cannot read prop|Maximum call stack|Invalid array length|is not iterable|undefined|Symbol\(|\[object /;

const rssLimit = () => process.memoryUsage().rss + 512 * 1024 * 1024;

function expectNamedError(error: unknown, path: string): string {
  if (!(error instanceof InputFileError)) throw error;
  expect(error.message).toContain(path);
  expect(error.message.split("\n")).toHaveLength(1);
  // A problem of the file in the file's words: no engine error wrapped in one (a TypeError's text),
  // and no blame on the file changing (nothing changes it while the fuzz reads it).
  if (ENGINE_WORDS.test(error.message)) throw new Error(`an engine error in a file error: ${error.message}`);
  expect(error.message).not.toContain("changed while being read");
  return error.message.slice(path.length);
}

/** How one file ends: a signature of what was read and what was refused, and whether any tensor was read. */
function outcome(path: string, fileBytes: number): { signature: string; read: number; refused: number } {
  const format = archiveFormatOf(path);
  if (format === undefined) return { signature: "unclaimed", read: 0, refused: 0 };
  let archive: ReturnType<typeof openTensorArchive>;
  try {
    archive = openTensorArchive(path, format);
  } catch (error) {
    return { signature: `open ${expectNamedError(error, path)}`, read: 0, refused: 1 };
  }
  const parts: string[] = [];
  let read = 0;
  let refused = 0;
  for (const name of archive.names) {
    try {
      const tensor = archive.read(name);
      expect(tensor.data.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
      // Bounded by what the file backs: a stride-0 view repeats at most 1024 times beyond 2^20 elements.
      expect(tensor.data.length).toBeLessThanOrEqual(Math.max(2 ** 20, 1024 * fileBytes));
      const digest = createHash("sha1")
        .update(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength))
        .digest("hex")
        .slice(0, 8);
      parts.push(`${name} ${tensor.dtype}[${tensor.shape.join(",")}] ${digest}`);
      read++;
    } catch (error) {
      parts.push(`${name} ! ${expectNamedError(error, path)}`);
      // An integer tensor (num_batches_tracked) is refused by read and read by readInteger.
      try {
        const value = archive.readInteger(name);
        expect(Number.isSafeInteger(value)).toBe(true);
        parts.push(`= ${value}`);
        read++;
      } catch (integerError) {
        expectNamedError(integerError, path);
        refused++;
      }
    }
  }
  return { signature: parts.join(" | "), read, refused };
}

describe("fuzzing the PyTorch reader (issue #22)", () => {
  const numRuns = Number(process.env.FUZZ_RUNS ?? 800);
  it(
    "every mutated pickle, zip and storage ends as backed tensors or InputFileErrors naming the file in one line",
    () => {
      const seed = Number(process.env.FUZZ_SEED ?? 22);
      const only = process.env.FUZZ_RUN === undefined ? undefined : Number(process.env.FUZZ_RUN);
      const counts = { read: 0, partly: 0, refused: 0, unclaimed: 0 };
      const byChange = new Map<string, number>();
      const signatures: string[] = [];
      const limit = rssLimit();
      for (let run = only ?? 0; run < (only === undefined ? numRuns : only + 1); run++) {
        const random = seededRandom(seed * 1_000_003 + run);
        const file = mutate(random);
        const path = join(work, `run-${run}${file.extension}`);
        writeFileSync(path, file.bytes);
        if (process.env.FUZZ_TRACE !== undefined)
          appendFileSync(
            process.env.FUZZ_TRACE,
            `${run} ${file.seed} ${file.change} ${Math.round(process.memoryUsage().rss / 2 ** 20)} ` +
              `${Math.round(performance.now())}\n`,
          );
        let result: ReturnType<typeof outcome>;
        try {
          result = outcome(path, file.bytes.length);
        } catch (error) {
          throw new Error(`run ${run} (FUZZ_RUN=${run}, ${file.seed}, ${file.change}): ${(error as Error).stack}`);
        } finally {
          rmSync(path, { force: true });
        }
        expect(process.memoryUsage().rss).toBeLessThan(limit);
        const kind =
          result.signature === "unclaimed"
            ? "unclaimed"
            : result.read === 0
              ? "refused"
              : result.refused === 0
                ? "read"
                : "partly";
        counts[kind]++;
        for (const change of file.change.split("+")) byChange.set(change, (byChange.get(change) ?? 0) + 1);
        signatures.push(`${run} ${file.seed} ${file.change} ${result.signature.replaceAll(path, "<file>")}`);
      }
      if (process.env.FUZZ_SIGNATURES !== undefined)
        writeFileSync(process.env.FUZZ_SIGNATURES, `${signatures.join("\n")}\n`);
      console.log(`pt fuzz: ${JSON.stringify(counts)}; changes ${JSON.stringify(Object.fromEntries(byChange))}`);
      if (only !== undefined) return;
      expect(counts.read + counts.partly + counts.refused + counts.unclaimed).toBe(numRuns);
      // The mutations reach past the zip reader: many files still read, many are refused by the pickle VM or the tensor
      // checks.
      expect(counts.refused).toBeGreaterThan(numRuns / 5);
      expect(counts.read + counts.partly).toBeGreaterThan(numRuns / 5);
      expect(signatures.filter((line) => line.includes("data.pkl is not a pickle")).length).toBeGreaterThan(
        numRuns / 20,
      );
      expect(
        signatures.filter((line) => / views | refers to storage | has storage /.test(line)).length,
      ).toBeGreaterThan(numRuns / 50);
    },
    Math.max(120_000, numRuns * 50),
  );
});
