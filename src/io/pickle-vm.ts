/**
 * A pickle interpreter that builds data and never runs code: the opcodes of protocols 0–5 that
 * torch.save, numpy and plain Python objects write, each with a bounded cost. It replaces a general
 * unpickler because the bounds must hold per opcode: a negative or huge length is refused before a
 * byte is read, integers longer than 64 bytes are kept as an inert size (never decoded), every
 * container counts against one object budget, and the stack and memo are bounded.
 *
 * Globals are resolved by the caller (`resolveGlobal`): a value it knows (an allow-listed function of
 * ours, a marker), or — for anything else — `undefined`, and the global becomes an inert `PyGlobal`.
 * Calling one (REDUCE, NEWOBJ, INST, OBJ) makes an inert `PyObject` holding the global's dotted name,
 * the arguments and, after BUILD, its state: data to walk, with no prototype taken from the pickle
 * (records are our own classes; dicts are Maps; BUILD never assigns onto anything).
 */

/** A Python float: kept apart from ints, so that a float can never pass where torch writes an int. */
export class PyFloat {
  constructor(readonly value: number) {
    Object.freeze(this);
  }
}

/** An integer too long to decode (LONG1/LONG4 of more than 8 bytes): only its size is kept. */
export class PyBigInt {
  constructor(readonly bytes: number) {
    Object.freeze(this);
  }
}

/** A tuple (immutable in Python; kept apart from lists so that arguments read as torch writes them). */
export type PyTuple = readonly unknown[];

/** A global the caller does not know: its dotted name only. */
export class PyGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {
    Object.freeze(this);
  }
  get dotted(): string {
    return `${this.module}.${this.name}`;
  }
}

/** An object of a foreign class, as data: what it was called with and the state BUILD gave it. */
export class PyObject {
  /** BUILD's state: usually a Map of attributes (`__dict__`), or a (dict, slots) tuple. */
  state: unknown = undefined;
  /** Items SETITEMS/APPENDS added to it (a dict or list subclass). */
  readonly items: unknown[] = [];
  constructor(
    readonly global: string,
    readonly args: readonly unknown[],
  ) {}
}

export interface PickleResolvers {
  /** The value of a global, or undefined to make it an inert PyGlobal. A function is called by REDUCE. */
  resolveGlobal(module: string, name: string): unknown;
  resolvePersistent(pid: unknown): unknown;
  /** Whether a known value may take BUILD's state (our records ignore it). */
}

export interface PickleLimits {
  /** Containers and objects created, all kinds together. */
  readonly maxObjects: number;
  readonly maxStack: number;
  readonly maxMemo: number;
}

export const DEFAULT_PICKLE_LIMITS: PickleLimits = { maxObjects: 2_000_000, maxStack: 100_000, maxMemo: 2_000_000 };

const MARK = Symbol("mark");
/** Longest integer decoded as a number; longer ones are PyBigInt. */
const MAX_INT_BYTES = 8;

export class PickleError extends Error {}

/** Runs the pickle in `bytes` and returns the value STOP leaves. @throws PickleError naming the problem. */
export function runPickle(
  bytes: Uint8Array,
  resolvers: PickleResolvers,
  limits: PickleLimits = DEFAULT_PICKLE_LIMITS,
): unknown {
  const m = new Machine(bytes, resolvers, limits);
  while (!m.stopped) {
    if (m.pos >= bytes.length) m.fail("ends without STOP");
    const opcode = bytes[m.pos++];
    HANDLERS[opcode](m, opcode);
  }
  return m.result;
}

const UTF8 = new TextDecoder("utf-8", { fatal: false });
const LATIN1 = new TextDecoder("latin1");

/**
 * The machine's state and the reads every opcode shares, each bounded before it reads or allocates:
 * a length is checked against the bytes left before anything is sliced, and the stack, the memo and
 * the objects created count against `limits`.
 */
class Machine {
  pos = 0;
  objects = 0;
  readonly stack: unknown[] = [];
  /** Stack heights at each MARK still open. */
  readonly marks: number[] = [];
  readonly memo = new Map<number, unknown>();
  stopped = false;
  /** What STOP left. */
  result: unknown = undefined;
  readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly resolvers: PickleResolvers,
    readonly limits: PickleLimits,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  fail(problem: string): never {
    throw new PickleError(`${problem} (at byte ${this.pos})`);
  }

  /** Takes `count` bytes: their start. A negative, fractional or huge count fails before a byte is read. */
  need(count: number): number {
    if (!Number.isSafeInteger(count) || count < 0) this.fail(`has a length of ${count}`);
    if (count > this.bytes.length - this.pos) this.fail(`has a length of ${count} bytes, past the end of the pickle`);
    const at = this.pos;
    this.pos += count;
    return at;
  }
  u8(): number {
    return this.bytes[this.need(1)];
  }
  u16(): number {
    return this.view.getUint16(this.need(2), true);
  }
  i32(): number {
    return this.view.getInt32(this.need(4), true);
  }
  u32(): number {
    return this.view.getUint32(this.need(4), true);
  }
  /** An 8-byte length, refused beyond 2^53 (it could never be sliced anyway). */
  u64(): number {
    const at = this.need(8);
    const high = this.view.getUint32(at + 4, true);
    if (high >= 2 ** 21) this.fail("has a length beyond 2^53");
    return high * 2 ** 32 + this.view.getUint32(at, true);
  }
  slice(count: number): Uint8Array {
    const at = this.need(count);
    return this.bytes.subarray(at, at + count);
  }
  /** A newline-terminated argument (protocol 0), as latin-1. */
  line(): string {
    const end = this.bytes.indexOf(0x0a, this.pos);
    if (end < 0) this.fail("has a line without its end");
    const value = LATIN1.decode(this.bytes.subarray(this.pos, end));
    this.pos = end + 1;
    return value;
  }

  /** Counts a container or object against the budget. */
  created<T>(value: T): T {
    if (++this.objects > this.limits.maxObjects) this.fail(`creates more than ${this.limits.maxObjects} objects`);
    return value;
  }
  push(value: unknown): void {
    if (this.stack.length >= this.limits.maxStack) this.fail(`stacks more than ${this.limits.maxStack} values`);
    this.stack.push(value);
  }
  pop(): unknown {
    if (this.stack.length === 0) this.fail("pops an empty stack");
    const value = this.stack.pop();
    if (value === MARK) this.fail("pops a mark");
    return value;
  }
  top(): unknown {
    if (this.stack.length === 0) this.fail("reads an empty stack");
    const value = this.stack[this.stack.length - 1];
    // As in CPython, whose marks live apart from the stack: a mark is no value to DUP, memoize or
    // append to (a copied MARK became a value — a storage key — with no mark of its own to pop).
    if (value === MARK) this.fail("reads a mark as a value");
    return value;
  }
  /** The values since the last MARK, which is removed with them. */
  popMark(): unknown[] {
    const at = this.marks.pop();
    if (at === undefined) this.fail("has no mark to pop to");
    const items = this.stack.splice(at as number);
    items.shift(); // the MARK itself
    return items;
  }
}

/** The opcodes, by their names in CPython's pickle.py. */
const OP = {
  PROTO: 0x80,
  FRAME: 0x95,
  STOP: 0x2e,
  MARK: 0x28,
  POP: 0x30,
  POP_MARK: 0x31,
  DUP: 0x32,
  PUT: 0x70,
  BINPUT: 0x71,
  LONG_BINPUT: 0x72,
  MEMOIZE: 0x94,
  GET: 0x67,
  BINGET: 0x68,
  LONG_BINGET: 0x6a,
  NONE: 0x4e,
  NEWTRUE: 0x88,
  NEWFALSE: 0x89,
  INT: 0x49,
  LONG: 0x4c,
  BININT: 0x4a,
  BININT1: 0x4b,
  BININT2: 0x4d,
  LONG1: 0x8a,
  LONG4: 0x8b,
  FLOAT: 0x46,
  BINFLOAT: 0x47,
  STRING: 0x53,
  BINSTRING: 0x54,
  SHORT_BINSTRING: 0x55,
  UNICODE: 0x56,
  BINUNICODE: 0x58,
  SHORT_BINUNICODE: 0x8c,
  BINUNICODE8: 0x8d,
  BINBYTES: 0x42,
  SHORT_BINBYTES: 0x43,
  BINBYTES8: 0x8e,
  BYTEARRAY8: 0x96,
  EMPTY_TUPLE: 0x29,
  TUPLE: 0x74,
  TUPLE1: 0x85,
  TUPLE2: 0x86,
  TUPLE3: 0x87,
  EMPTY_LIST: 0x5d,
  LIST: 0x6c,
  EMPTY_SET: 0x8f,
  FROZENSET: 0x91,
  EMPTY_DICT: 0x7d,
  DICT: 0x64,
  APPEND: 0x61,
  APPENDS: 0x65,
  ADDITEMS: 0x90,
  SETITEM: 0x73,
  SETITEMS: 0x75,
  GLOBAL: 0x63,
  STACK_GLOBAL: 0x93,
  REDUCE: 0x52,
  NEWOBJ: 0x81,
  NEWOBJ_EX: 0x92,
  INST: 0x69,
  OBJ: 0x6f,
  BUILD: 0x62,
  PERSID: 0x50,
  BINPERSID: 0x51,
  EXT1: 0x82,
  EXT2: 0x83,
  EXT4: 0x84,
  NEXT_BUFFER: 0x97,
  READONLY_BUFFER: 0x98,
} as const;

type Handler = (m: Machine, opcode: number) => void;
type Handlers = Readonly<Record<number, Handler>>;

/** Protocol framing: PROTO, FRAME (a length hint only), STOP. */
const FRAMING: Handlers = {
  [OP.PROTO]: (m) => {
    if (m.u8() > 5) m.fail("uses a pickle protocol above 5");
  },
  [OP.FRAME]: (m) => {
    m.u64();
  },
  [OP.STOP]: (m) => {
    const { stack } = m;
    m.result = stack.length === 0 ? m.fail("stops with an empty stack") : stack[stack.length - 1];
    m.stopped = true;
  },
};

/** Stack and memo operations. */
const STACK_AND_MEMO: Handlers = {
  [OP.MARK]: (m) => {
    m.marks.push(m.stack.length);
    m.push(MARK);
  },
  [OP.POP]: (m) => {
    // POP of a mark discards the mark (what pickletools calls popping to an empty frame).
    if (m.stack.length > 0 && m.stack[m.stack.length - 1] === MARK) {
      m.stack.pop();
      m.marks.pop();
    } else m.pop();
  },
  [OP.POP_MARK]: (m) => {
    m.popMark();
  },
  [OP.DUP]: (m) => m.push(m.top()),
  [OP.PUT]: (m) => remember(m, Number(m.line()), m.top()),
  [OP.BINPUT]: (m) => remember(m, m.u8(), m.top()),
  [OP.LONG_BINPUT]: (m) => remember(m, m.u32(), m.top()),
  [OP.MEMOIZE]: (m) => remember(m, m.memo.size, m.top()),
  [OP.GET]: (m) => m.push(recall(m, Number(m.line()))),
  [OP.BINGET]: (m) => m.push(recall(m, m.u8())),
  [OP.LONG_BINGET]: (m) => m.push(recall(m, m.u32())),
};

function remember(m: Machine, index: number, value: unknown): void {
  if (!m.memo.has(index) && m.memo.size >= m.limits.maxMemo) m.fail(`memoizes more than ${m.limits.maxMemo} values`);
  m.memo.set(index, value);
}

function recall(m: Machine, index: number): unknown {
  if (!m.memo.has(index)) m.fail(`reads memo entry ${index}, which was never stored`);
  return m.memo.get(index);
}

/** None, booleans, integers and floats. */
const NUMBERS: Handlers = {
  [OP.NONE]: (m) => m.push(null),
  [OP.NEWTRUE]: (m) => m.push(true),
  [OP.NEWFALSE]: (m) => m.push(false),
  [OP.INT]: (m) => m.push(textInt(m, m.line())),
  [OP.LONG]: (m) => m.push(textInt(m, m.line())),
  [OP.BININT]: (m) => m.push(m.i32()),
  [OP.BININT1]: (m) => m.push(m.u8()),
  [OP.BININT2]: (m) => m.push(m.u16()),
  [OP.LONG1]: (m) => m.push(signedLittle(m, m.slice(m.u8()))),
  [OP.LONG4]: (m) => {
    // A signed length; integers over 8 bytes are not decoded (a 8 MiB one took 20 s).
    const length = m.i32();
    if (length < 0) m.fail(`has a LONG4 of length ${length}`);
    m.push(signedLittle(m, m.slice(length)));
  },
  [OP.FLOAT]: (m) => m.push(new PyFloat(Number.parseFloat(m.line()))),
  // BINFLOAT: big-endian
  [OP.BINFLOAT]: (m) => m.push(new PyFloat(m.view.getFloat64(m.need(8), false))),
};

/** A little-endian two's-complement integer (LONG1, LONG4): up to 8 bytes decoded, longer ones kept as a size. */
function signedLittle(m: Machine, data: Uint8Array): number | PyBigInt {
  if (data.length === 0) return 0;
  if (data.length > MAX_INT_BYTES) return m.created(new PyBigInt(data.length));
  let value = 0n;
  for (let k = data.length - 1; k >= 0; k--) value = (value << 8n) | BigInt(data[k]);
  if (data[data.length - 1] & 0x80) value -= 1n << BigInt(8 * data.length);
  return Number(value);
}

/** INT and LONG's decimal text (protocol 0): "00"/"01" are False/True; over 40 digits, kept as a size. */
function textInt(m: Machine, value: string): number | PyBigInt {
  const trimmed = value.replace(/L$/, "");
  if (trimmed === "00") return 0; // protocol 0's False
  if (trimmed === "01") return 1;
  if (!/^[-+]?\d{1,40}$/.test(trimmed))
    return trimmed.length > 40
      ? m.created(new PyBigInt(trimmed.length))
      : m.fail(`has the integer '${trimmed.slice(0, 20)}'`);
  return Number(trimmed);
}

/** Strings and bytes; every length checked against the bytes left before it is sliced. */
const STRINGS_AND_BYTES: Handlers = {
  // STRING: a quoted repr
  [OP.STRING]: (m) => {
    const value = m.line();
    m.push(value.length >= 2 ? value.slice(1, -1) : value);
  },
  // BINSTRING: a signed 4-byte length
  [OP.BINSTRING]: (m) => {
    const length = m.i32();
    if (length < 0) m.fail(`has a BINSTRING of length ${length}`);
    m.push(LATIN1.decode(m.slice(length)));
  },
  [OP.SHORT_BINSTRING]: (m) => m.push(LATIN1.decode(m.slice(m.u8()))),
  // UNICODE: a raw-unicode-escape line
  [OP.UNICODE]: (m) => m.push(m.line()),
  [OP.BINUNICODE]: (m) => m.push(UTF8.decode(m.slice(m.u32()))),
  [OP.SHORT_BINUNICODE]: (m) => m.push(UTF8.decode(m.slice(m.u8()))),
  [OP.BINUNICODE8]: (m) => m.push(UTF8.decode(m.slice(m.u64()))),
  // An unsigned length: a "negative" one is past the end.
  [OP.BINBYTES]: (m) => m.push(m.slice(m.u32())),
  [OP.SHORT_BINBYTES]: (m) => m.push(m.slice(m.u8())),
  [OP.BINBYTES8]: (m) => m.push(m.slice(m.u64())),
  [OP.BYTEARRAY8]: (m) => m.push(m.slice(m.u64())),
};

/** Tuples (frozen arrays), lists, sets (as lists) and dicts (Maps), each counted against the object budget. */
const CONTAINERS: Handlers = {
  [OP.EMPTY_TUPLE]: (m) => m.push(m.created(Object.freeze([]))),
  [OP.TUPLE]: (m) => m.push(m.created(Object.freeze(m.popMark()))),
  [OP.TUPLE1]: (m) => m.push(m.created(Object.freeze([m.pop()]))),
  [OP.TUPLE2]: (m) => {
    const b = m.pop();
    const a = m.pop();
    m.push(m.created(Object.freeze([a, b])));
  },
  [OP.TUPLE3]: (m) => {
    const c = m.pop();
    const b = m.pop();
    const a = m.pop();
    m.push(m.created(Object.freeze([a, b, c])));
  },
  [OP.EMPTY_LIST]: (m) => m.push(m.created([])),
  [OP.LIST]: (m) => m.push(m.created(m.popMark())),
  [OP.EMPTY_SET]: (m) => m.push(m.created([])),
  [OP.FROZENSET]: (m) => m.push(m.created(Object.freeze(m.popMark()))),
  [OP.EMPTY_DICT]: (m) => m.push(m.created(new Map())),
  [OP.DICT]: (m) => {
    const items = m.popMark();
    const dict = m.created(new Map());
    for (let k = 0; k + 1 < items.length; k += 2) dict.set(mapKey(items[k]), items[k + 1]);
    m.push(dict);
  },
};

/** What adds to a list, set or dict already on the stack. */
const CONTAINER_UPDATES: Handlers = {
  [OP.APPEND]: (m) => {
    const value = m.pop();
    append(m, m.top(), [value]);
  },
  [OP.APPENDS]: (m) => {
    const values = m.popMark();
    append(m, m.top(), values);
  },
  [OP.ADDITEMS]: (m) => {
    const items = m.popMark();
    append(m, m.top(), items);
  },
  [OP.SETITEM]: (m) => {
    const value = m.pop();
    const key = m.pop();
    setItem(m, m.top(), key, value);
  },
  [OP.SETITEMS]: (m) => {
    const items = m.popMark();
    const target = m.top();
    for (let k = 0; k + 1 < items.length; k += 2) setItem(m, target, items[k], items[k + 1]);
  },
};

function setItem(m: Machine, target: unknown, key: unknown, value: unknown): void {
  if (target instanceof Map) target.set(mapKey(key), value);
  else if (target instanceof PyObject) target.items.push([key, value]);
  else m.fail("sets an item on something that is not a dict");
}

/** Appends to a list (never a tuple: frozen) or to a foreign object's items. */
function append(m: Machine, target: unknown, values: unknown[]): void {
  if (Array.isArray(target) && !Object.isFrozen(target)) {
    for (const value of values) target.push(value);
  } else if (target instanceof PyObject) target.items.push(...values);
  else m.fail("appends to something that is not a list");
}

/** Globals, calls, BUILD and persistent ids: what the caller's resolvers decide, else inert records. */
const OBJECTS: Handlers = {
  // GLOBAL: module and name on two lines
  [OP.GLOBAL]: (m) => {
    const module = m.line();
    const name = m.line();
    m.push(global(m, module, name));
  },
  [OP.STACK_GLOBAL]: (m) => {
    const name = m.pop();
    const module = m.pop();
    if (typeof module !== "string" || typeof name !== "string")
      m.fail("has a STACK_GLOBAL whose module or name is not a string");
    m.push(global(m, module as string, name as string));
  },
  [OP.REDUCE]: (m) => {
    const args = m.pop();
    const callable = m.pop();
    m.push(call(m, callable, args));
  },
  // NEWOBJ: cls.__new__(cls, *args)
  [OP.NEWOBJ]: (m) => {
    const args = m.pop();
    m.push(newObject(m, m.pop(), args));
  },
  [OP.NEWOBJ_EX]: (m) => {
    m.pop(); // kwargs
    const args = m.pop();
    m.push(newObject(m, m.pop(), args));
  },
  // INST: module and name on lines, arguments since the mark
  [OP.INST]: (m) => {
    const module = m.line();
    const name = m.line();
    const args = m.popMark();
    m.push(call(m, global(m, module, name), args));
  },
  // OBJ: the class and arguments since the mark
  [OP.OBJ]: (m) => {
    const items = m.popMark();
    if (items.length === 0) m.fail("has an OBJ without a class");
    m.push(call(m, items[0], items.slice(1)));
  },
  [OP.BUILD]: (m) => {
    const state = m.pop();
    build(m.top(), state);
  },
  [OP.PERSID]: (m) => m.push(m.resolvers.resolvePersistent(m.line())),
  [OP.BINPERSID]: (m) => m.push(m.resolvers.resolvePersistent(m.pop())),
};

function global(m: Machine, module: string, name: string): unknown {
  const known = m.resolvers.resolveGlobal(module, name);
  return known === undefined ? new PyGlobal(module, name) : known;
}

/** A known function is called with the arguments; an unknown global makes an inert PyObject. */
function call(m: Machine, callable: unknown, args: unknown): unknown {
  if (!Array.isArray(args)) return m.fail("calls with arguments that are not a tuple");
  if (typeof callable === "function") return (callable as (...a: unknown[]) => unknown)(...args);
  if (callable instanceof PyGlobal) return m.created(new PyObject(callable.dotted, args));
  return m.fail("calls something that is not a global");
}

function newObject(m: Machine, cls: unknown, args: unknown): unknown {
  return cls instanceof PyGlobal
    ? m.created(new PyObject(cls.dotted, Array.isArray(args) ? args : []))
    : call(m, cls, args);
}

function build(target: unknown, state: unknown): void {
  // Foreign objects keep their state as data; our records and markers are immutable and ignore it.
  if (target instanceof PyObject) target.state = state;
  else if (target instanceof Map && state instanceof Map) for (const [key, value] of state) target.set(key, value);
}

/** Opcodes torch.save never writes, refused by name. */
const REFUSED: Handlers = Object.fromEntries([
  ...[OP.EXT1, OP.EXT2, OP.EXT4].map((op): [number, Handler] => [
    op,
    (m, opcode) => m.fail(`uses pickle extension opcode 0x${opcode.toString(16)}, which torch.save does not write`),
  ]),
  ...[OP.NEXT_BUFFER, OP.READONLY_BUFFER].map((op): [number, Handler] => [
    op,
    (m) => m.fail("uses out-of-band buffers, which torch.save does not write"),
  ]),
]);

const unknownOpcode: Handler = (m, opcode) =>
  m.fail(`has the unknown opcode 0x${opcode.toString(16).padStart(2, "0")}`);

/** Every byte's handler: the families above, and unknownOpcode for the rest. */
const HANDLERS: readonly Handler[] = (() => {
  const table: Handler[] = new Array(256).fill(unknownOpcode);
  for (const family of [
    FRAMING,
    STACK_AND_MEMO,
    NUMBERS,
    STRINGS_AND_BYTES,
    CONTAINERS,
    CONTAINER_UPDATES,
    OBJECTS,
    REFUSED,
  ]) {
    for (const [opcode, handler] of Object.entries(family)) table[Number(opcode)] = handler;
  }
  return table;
})();

/** Dict keys: strings and numbers as they are; other keys (tuples, objects) by a readable text. */
function mapKey(key: unknown): unknown {
  if (typeof key === "string" || typeof key === "number" || typeof key === "boolean" || key === null) return key;
  if (key instanceof PyFloat) return key.value;
  return key;
}
