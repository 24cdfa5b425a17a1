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
export function runPickle(bytes: Uint8Array, resolvers: PickleResolvers, limits: PickleLimits = DEFAULT_PICKLE_LIMITS): unknown {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const text = new TextDecoder("utf-8", { fatal: false });
  const latin1 = new TextDecoder("latin1");
  let pos = 0;
  let objects = 0;
  const stack: unknown[] = [];
  const marks: number[] = [];
  const memo = new Map<number, unknown>();
  const fail = (problem: string): never => {
    throw new PickleError(`${problem} (at byte ${pos})`);
  };
  const need = (count: number): number => {
    if (!Number.isSafeInteger(count) || count < 0) fail(`has a length of ${count}`);
    if (count > bytes.length - pos) fail(`has a length of ${count} bytes, past the end of the pickle`);
    const at = pos;
    pos += count;
    return at;
  };
  const u8 = () => bytes[need(1)];
  const u16 = () => view.getUint16(need(2), true);
  const i32 = () => view.getInt32(need(4), true);
  const u32 = () => view.getUint32(need(4), true);
  const u64 = (): number => {
    const at = need(8);
    const high = view.getUint32(at + 4, true);
    if (high >= 2 ** 21) fail("has a length beyond 2^53");
    return high * 2 ** 32 + view.getUint32(at, true);
  };
  const slice = (count: number) => {
    const at = need(count);
    return bytes.subarray(at, at + count);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) fail("has a line without its end");
    const value = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return value;
  };
  const created = <T>(value: T): T => {
    if (++objects > limits.maxObjects) fail(`creates more than ${limits.maxObjects} objects`);
    return value;
  };
  const push = (value: unknown) => {
    if (stack.length >= limits.maxStack) fail(`stacks more than ${limits.maxStack} values`);
    stack.push(value);
  };
  const pop = (): unknown => {
    if (stack.length === 0) fail("pops an empty stack");
    const value = stack.pop();
    if (value === MARK) fail("pops a mark");
    return value;
  };
  const top = (): unknown => {
    if (stack.length === 0) fail("reads an empty stack");
    const value = stack[stack.length - 1];
    // As in CPython, whose marks live apart from the stack: a mark is no value to DUP, memoize or
    // append to (a copied MARK became a value — a storage key — with no mark of its own to pop).
    if (value === MARK) fail("reads a mark as a value");
    return value;
  };
  const popMark = (): unknown[] => {
    const at = marks.pop();
    if (at === undefined) fail("has no mark to pop to");
    const items = stack.splice(at as number);
    items.shift(); // the MARK itself
    return items;
  };
  const remember = (index: number, value: unknown) => {
    if (!memo.has(index) && memo.size >= limits.maxMemo) fail(`memoizes more than ${limits.maxMemo} values`);
    memo.set(index, value);
  };
  const recall = (index: number): unknown => {
    if (!memo.has(index)) fail(`reads memo entry ${index}, which was never stored`);
    return memo.get(index);
  };
  const signedLittle = (data: Uint8Array): number | PyBigInt => {
    if (data.length === 0) return 0;
    if (data.length > MAX_INT_BYTES) return created(new PyBigInt(data.length));
    let value = 0n;
    for (let k = data.length - 1; k >= 0; k--) value = (value << 8n) | BigInt(data[k]);
    if (data[data.length - 1] & 0x80) value -= 1n << BigInt(8 * data.length);
    return Number(value);
  };
  const textInt = (value: string): number | PyBigInt => {
    const trimmed = value.replace(/L$/, "");
    if (trimmed === "00") return 0; // protocol 0's False
    if (trimmed === "01") return 1;
    if (!/^[-+]?\d{1,40}$/.test(trimmed)) return trimmed.length > 40 ? created(new PyBigInt(trimmed.length)) : fail(`has the integer '${trimmed.slice(0, 20)}'`);
    return Number(trimmed);
  };
  const setItem = (target: unknown, key: unknown, value: unknown) => {
    if (target instanceof Map) target.set(mapKey(key), value);
    else if (target instanceof PyObject) target.items.push([key, value]);
    else fail("sets an item on something that is not a dict");
  };
  const append = (target: unknown, values: unknown[]) => {
    if (Array.isArray(target) && !Object.isFrozen(target)) {
      for (const value of values) target.push(value);
    } else if (target instanceof PyObject) target.items.push(...values);
    else fail("appends to something that is not a list");
  };
  const call = (callable: unknown, args: unknown): unknown => {
    if (!Array.isArray(args)) return fail("calls with arguments that are not a tuple");
    if (typeof callable === "function") return (callable as (...a: unknown[]) => unknown)(...args);
    if (callable instanceof PyGlobal) return created(new PyObject(callable.dotted, args));
    return fail("calls something that is not a global");
  };
  const global = (module: string, name: string): unknown => {
    const known = resolvers.resolveGlobal(module, name);
    return known === undefined ? new PyGlobal(module, name) : known;
  };
  const build = (target: unknown, state: unknown) => {
    // Foreign objects keep their state as data; our records and markers are immutable and ignore it.
    if (target instanceof PyObject) target.state = state;
    else if (target instanceof Map && state instanceof Map) for (const [key, value] of state) target.set(key, value);
  };

  while (true) {
    if (pos >= bytes.length) fail("ends without STOP");
    const opcode = bytes[pos++];
    switch (opcode) {
      case 0x80: // PROTO
        if (u8() > 5) fail("uses a pickle protocol above 5");
        break;
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: // STOP
        if (stack.length !== 1) return stack.length === 0 ? fail("stops with an empty stack") : stack[stack.length - 1];
        return stack[0];
      case 0x28: // MARK
        marks.push(stack.length);
        push(MARK);
        break;
      case 0x30: // POP
        if (stack.length > 0 && stack[stack.length - 1] === MARK) {
          stack.pop();
          marks.pop();
        } else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88: // NEWTRUE
        push(true);
        break;
      case 0x89: // NEWFALSE
        push(false);
        break;
      case 0x49: // INT
        push(textInt(line()));
        break;
      case 0x4a: // BININT
        push(i32());
        break;
      case 0x4b: // BININT1
        push(u8());
        break;
      case 0x4d: // BININT2
        push(u16());
        break;
      case 0x4c: // LONG
        push(textInt(line()));
        break;
      case 0x8a: // LONG1
        push(signedLittle(slice(u8())));
        break;
      case 0x8b: {
        // LONG4: a signed length; integers over 8 bytes are not decoded (a 8 MiB one took 20 s).
        const length = i32();
        if (length < 0) fail(`has a LONG4 of length ${length}`);
        push(signedLittle(slice(length)));
        break;
      }
      case 0x46: // FLOAT
        push(new PyFloat(Number.parseFloat(line())));
        break;
      case 0x47: // BINFLOAT (big-endian)
        push(new PyFloat(view.getFloat64(need(8), false)));
        break;
      case 0x53: {
        // STRING: a quoted repr
        const value = line();
        push(value.length >= 2 ? value.slice(1, -1) : value);
        break;
      }
      case 0x54: {
        // BINSTRING: a signed 4-byte length
        const length = i32();
        if (length < 0) fail(`has a BINSTRING of length ${length}`);
        push(latin1.decode(slice(length)));
        break;
      }
      case 0x55: // SHORT_BINSTRING
        push(latin1.decode(slice(u8())));
        break;
      case 0x56: // UNICODE (raw-unicode-escape line)
        push(line());
        break;
      case 0x58: // BINUNICODE
        push(text.decode(slice(u32())));
        break;
      case 0x8c: // SHORT_BINUNICODE
        push(text.decode(slice(u8())));
        break;
      case 0x8d: // BINUNICODE8
        push(text.decode(slice(u64())));
        break;
      case 0x42: // BINBYTES (an unsigned length; a "negative" one is past the end)
        push(slice(u32()));
        break;
      case 0x43: // SHORT_BINBYTES
        push(slice(u8()));
        break;
      case 0x8e: // BINBYTES8
      case 0x96: // BYTEARRAY8
        push(slice(u64()));
        break;
      case 0x29: // EMPTY_TUPLE
        push(created(Object.freeze([])));
        break;
      case 0x74: // TUPLE
        push(created(Object.freeze(popMark())));
        break;
      case 0x85: // TUPLE1
        push(created(Object.freeze([pop()])));
        break;
      case 0x86: {
        // TUPLE2
        const b = pop();
        const a = pop();
        push(created(Object.freeze([a, b])));
        break;
      }
      case 0x87: {
        // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(created(Object.freeze([a, b, c])));
        break;
      }
      case 0x5d: // EMPTY_LIST
        push(created([]));
        break;
      case 0x6c: // LIST
        push(created(popMark()));
        break;
      case 0x61: {
        // APPEND
        const value = pop();
        append(top(), [value]);
        break;
      }
      case 0x65: {
        // APPENDS
        const values = popMark();
        append(top(), values);
        break;
      }
      case 0x7d: // EMPTY_DICT
        push(created(new Map()));
        break;
      case 0x64: {
        // DICT
        const items = popMark();
        const dict = created(new Map());
        for (let k = 0; k + 1 < items.length; k += 2) dict.set(mapKey(items[k]), items[k + 1]);
        push(dict);
        break;
      }
      case 0x73: {
        // SETITEM
        const value = pop();
        const key = pop();
        setItem(top(), key, value);
        break;
      }
      case 0x75: {
        // SETITEMS
        const items = popMark();
        const target = top();
        for (let k = 0; k + 1 < items.length; k += 2) setItem(target, items[k], items[k + 1]);
        break;
      }
      case 0x8f: // EMPTY_SET
        push(created([]));
        break;
      case 0x90: {
        // ADDITEMS
        const items = popMark();
        append(top(), items);
        break;
      }
      case 0x91: // FROZENSET
        push(created(Object.freeze(popMark())));
        break;
      case 0x70: // PUT
        remember(Number(line()), top());
        break;
      case 0x71: // BINPUT
        remember(u8(), top());
        break;
      case 0x72: // LONG_BINPUT
        remember(u32(), top());
        break;
      case 0x94: // MEMOIZE
        remember(memo.size, top());
        break;
      case 0x67: // GET
        push(recall(Number(line())));
        break;
      case 0x68: // BINGET
        push(recall(u8()));
        break;
      case 0x6a: // LONG_BINGET
        push(recall(u32()));
        break;
      case 0x63: {
        // GLOBAL: module and name on two lines
        const module = line();
        const name = line();
        push(global(module, name));
        break;
      }
      case 0x93: {
        // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== "string" || typeof name !== "string") fail("has a STACK_GLOBAL whose module or name is not a string");
        push(global(module as string, name as string));
        break;
      }
      case 0x52: {
        // REDUCE
        const args = pop();
        const callable = pop();
        push(call(callable, args));
        break;
      }
      case 0x81: {
        // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        push(cls instanceof PyGlobal ? created(new PyObject(cls.dotted, Array.isArray(args) ? args : [])) : call(cls, args));
        break;
      }
      case 0x92: {
        // NEWOBJ_EX
        pop(); // kwargs
        const args = pop();
        const cls = pop();
        push(cls instanceof PyGlobal ? created(new PyObject(cls.dotted, Array.isArray(args) ? args : [])) : call(cls, args));
        break;
      }
      case 0x69: {
        // INST: module and name on lines, arguments since the mark
        const module = line();
        const name = line();
        const args = popMark();
        push(call(global(module, name), args));
        break;
      }
      case 0x6f: {
        // OBJ: the class and arguments since the mark
        const items = popMark();
        if (items.length === 0) fail("has an OBJ without a class");
        push(call(items[0], items.slice(1)));
        break;
      }
      case 0x62: {
        // BUILD
        const state = pop();
        build(top(), state);
        break;
      }
      case 0x50: // PERSID
        push(resolvers.resolvePersistent(line()));
        break;
      case 0x51: // BINPERSID
        push(resolvers.resolvePersistent(pop()));
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        return fail(`uses pickle extension opcode 0x${opcode.toString(16)}, which torch.save does not write`);
      case 0x97:
      case 0x98:
        return fail("uses out-of-band buffers, which torch.save does not write");
      default:
        return fail(`has the unknown opcode 0x${opcode.toString(16).padStart(2, "0")}`);
    }
  }
}

/** Dict keys: strings and numbers as they are; other keys (tuples, objects) by a readable text. */
function mapKey(key: unknown): unknown {
  if (typeof key === "string" || typeof key === "number" || typeof key === "boolean" || key === null) return key;
  if (key instanceof PyFloat) return key.value;
  return key;
}
