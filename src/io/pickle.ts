// A restricted pickle virtual machine following CPython's Lib/pickle.py (_Unpickler) and Lib/pickletools.py.
// Only data opcodes are interpreted; a GLOBAL/STACK_GLOBAL is looked up in a caller-supplied allowlist and
// anything else is refused by name before it can be called, so unpickling never runs code (no import, no eval).
// Protocols 0 to 5 are accepted; torch.save writes protocol 2.

export class PickleError extends Error {}

/** Raised for a global outside the allowlist; `global` is "module.name". */
export class ForbiddenGlobalError extends PickleError {
  constructor(readonly global: string, where: string) {
    super(`${where}: refusing to load global '${global}': it is not on the allowlist of tensor-rebuilding functions (a pickle can run arbitrary code through such globals)`);
  }
}

/** A callable the allowlist hands out: REDUCE and NEWOBJ call it with the unpickled arguments. */
export class PyCallable {
  constructor(readonly qualname: string, readonly fn: (args: unknown[]) => unknown) {}
}

/** Python tuples and lists both become arrays; tuples are frozen. Dicts become Maps (keys may be non-strings). */
export type PyDict = Map<unknown, unknown>;

/** What BUILD did to a dict: the attribute state (e.g. a state dict's `_metadata`), kept but not interpreted. */
export const DICT_STATE = Symbol('pickle.dictState');

export interface UnpickleOptions {
  /** Name used in error messages (the file and record). */
  where: string;
  /** Returns the value of an allowed global, or undefined to refuse it. */
  resolveGlobal(module: string, name: string): unknown;
  /** PERSID / BINPERSID; absent means persistent ids are refused. */
  persistentLoad?(pid: unknown): unknown;
}

/** Unpickle `data`; throws PickleError (or ForbiddenGlobalError) on anything outside the restricted subset. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): unknown {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const where = opts.where;
  let pos = 0;
  const stack: unknown[] = [];
  const metastack: unknown[][] = [];
  const memo = new Map<number, unknown>();
  let current = stack;

  const fail = (msg: string): never => {
    throw new PickleError(`${where}: ${msg} (at byte ${pos})`);
  };
  const need = (n: number): void => {
    if (pos + n > buf.length) fail(`truncated pickle: need ${n} more bytes`);
  };
  const u8 = (): number => {
    need(1);
    return buf[pos++];
  };
  const u16 = (): number => {
    need(2);
    const v = buf.readUInt16LE(pos);
    pos += 2;
    return v;
  };
  const u32 = (): number => {
    need(4);
    const v = buf.readUInt32LE(pos);
    pos += 4;
    return v;
  };
  const i32 = (): number => {
    need(4);
    const v = buf.readInt32LE(pos);
    pos += 4;
    return v;
  };
  const u64 = (): number => {
    need(8);
    const v = buf.readBigUInt64LE(pos);
    pos += 8;
    if (v > BigInt(buf.length)) fail(`length ${v} exceeds the pickle size`);
    return Number(v);
  };
  const bytes = (n: number): Buffer => {
    need(n);
    const b = buf.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = (): string => {
    const end = buf.indexOf(0x0a, pos);
    if (end < 0) fail('truncated pickle: unterminated text argument');
    const s = buf.toString('latin1', pos, end);
    pos = end + 1;
    return s;
  };
  // Reads `current` when called, after its argument (which may pop a MARK and switch stacks) is evaluated.
  const push = (v: unknown): void => {
    current.push(v);
  };
  const pop = (): unknown => {
    if (current.length === 0) fail('stack underflow');
    return current.pop();
  };
  const top = (): unknown => {
    if (current.length === 0) fail('stack underflow');
    return current[current.length - 1];
  };
  const popMark = (): unknown[] => {
    const items = current;
    const prev = metastack.pop();
    if (!prev) fail('MARK expected but the mark stack is empty');
    current = prev!;
    return items;
  };
  const memoGet = (i: number): unknown => {
    if (!memo.has(i)) fail(`memo key ${i} not found`);
    return memo.get(i);
  };
  const decodeLong = (b: Buffer): number | bigint => {
    if (b.length === 0) return 0;
    let v = 0n;
    for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
    if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const intFromText = (s: string): number | bigint => {
    const t = s.trim().replace(/L$/, '');
    if (!/^[-+]?\d+$/.test(t)) fail(`bad integer literal ${JSON.stringify(s)}`);
    const v = BigInt(t);
    return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
  };
  const findGlobal = (module: string, name: string): unknown => {
    const v = opts.resolveGlobal(module, name);
    if (v === undefined) throw new ForbiddenGlobalError(`${module}.${name}`, where);
    return v;
  };
  const call = (fn: unknown, args: unknown, op: string): unknown => {
    if (!(fn instanceof PyCallable)) fail(`${op} on a value that is not an allowed callable`);
    if (!Array.isArray(args)) fail(`${op} arguments are not a tuple`);
    return (fn as PyCallable).fn(args as unknown[]);
  };
  const setItems = (d: unknown, kv: unknown[]): void => {
    if (!(d instanceof Map)) fail('SETITEM(S) target is not a dict');
    if (kv.length % 2) fail('SETITEMS with an odd number of items');
    for (let i = 0; i < kv.length; i += 2) (d as PyDict).set(kv[i], kv[i + 1]);
  };
  const tuple = (items: unknown[]): unknown[] => Object.freeze(items) as unknown[];

  for (;;) {
    const opPos = pos;
    const op = u8();
    switch (op) {
      case 0x80: {
        const proto = u8();
        if (proto > 5) fail(`unsupported pickle protocol ${proto}`);
        break;
      }
      case 0x95: // FRAME: a length prefix only; the data follows inline.
        u64();
        break;
      case 0x2e: // STOP
        if (current !== stack || stack.length !== 1) fail(`STOP with ${current.length} values on the stack (expected exactly 1, no open MARK)`);
        return stack[0];
      case 0x28: // MARK
        metastack.push(current);
        current = [];
        break;
      case 0x30: // POP
        if (current.length === 0) popMark();
        else current.pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;

      // ----- scalars
      case 0x4e: // NONE
        push(null);
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x49: {
        // INT (protocol 0); "I01"/"I00" are True/False
        const s = line();
        if (s === '01') push(true);
        else if (s === '00') push(false);
        else push(intFromText(s));
        break;
      }
      case 0x4a:
        push(i32());
        break;
      case 0x4b:
        push(u8());
        break;
      case 0x4d:
        push(u16());
        break;
      case 0x4c: // LONG (protocol 0)
        push(intFromText(line()));
        break;
      case 0x8a:
        push(decodeLong(bytes(u8())));
        break;
      case 0x8b: {
        const n = i32();
        if (n < 0) fail('LONG4 with a negative length');
        push(decodeLong(bytes(n)));
        break;
      }
      case 0x46: {
        const s = line().trim();
        const v = Number(s);
        if (Number.isNaN(v) && !/^[-+]?nan$/i.test(s)) fail(`bad float literal ${JSON.stringify(s)}`);
        push(v);
        break;
      }
      case 0x47:
        need(8);
        push(buf.readDoubleBE(pos));
        pos += 8;
        break;

      // ----- strings and bytes
      case 0x53: // STRING (protocol 0): a quoted Python repr
        push(unquote(line(), fail));
        break;
      case 0x54: {
        const n = i32();
        if (n < 0) fail('BINSTRING with a negative length');
        push(bytes(n).toString('latin1'));
        break;
      }
      case 0x55:
        push(bytes(u8()).toString('latin1'));
        break;
      case 0x56: // UNICODE (raw-unicode-escape)
        push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h) => String.fromCharCode(parseInt(h, 16))));
        break;
      case 0x58:
        push(bytes(u32()).toString('utf8'));
        break;
      case 0x8c:
        push(bytes(u8()).toString('utf8'));
        break;
      case 0x8d:
        push(bytes(u64()).toString('utf8'));
        break;
      case 0x42:
        push(Buffer.from(bytes(u32())));
        break;
      case 0x43:
        push(Buffer.from(bytes(u8())));
        break;
      case 0x8e:
      case 0x96:
        push(Buffer.from(bytes(u64())));
        break;

      // ----- containers
      case 0x29:
        push(tuple([]));
        break;
      case 0x74:
        push(tuple(popMark()));
        break;
      case 0x85:
        push(tuple([pop()]));
        break;
      case 0x86: {
        const b = pop();
        const a = pop();
        push(tuple([a, b]));
        break;
      }
      case 0x87: {
        const c = pop();
        const b = pop();
        const a = pop();
        push(tuple([a, b, c]));
        break;
      }
      case 0x5d:
        push([]);
        break;
      case 0x6c:
        push(popMark());
        break;
      case 0x61: {
        const v = pop();
        const l = top();
        if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPEND target is not a list');
        (l as unknown[]).push(v);
        break;
      }
      case 0x65: {
        const items = popMark();
        const l = top();
        if (!Array.isArray(l) || Object.isFrozen(l)) fail('APPENDS target is not a list');
        (l as unknown[]).push(...items);
        break;
      }
      case 0x7d:
        push(new Map());
        break;
      case 0x64: {
        const d: PyDict = new Map();
        setItems(d, popMark());
        push(d);
        break;
      }
      case 0x73: {
        const v = pop();
        const k = pop();
        setItems(top(), [k, v]);
        break;
      }
      case 0x75: {
        const items = popMark();
        setItems(top(), items);
        break;
      }
      case 0x8f: // EMPTY_SET: sets become arrays
        push([]);
        break;
      case 0x90: {
        const items = popMark();
        const s = top();
        if (!Array.isArray(s)) fail('ADDITEMS target is not a set');
        (s as unknown[]).push(...items);
        break;
      }
      case 0x91:
        push(tuple(popMark()));
        break;

      // ----- memo
      case 0x70:
        memo.set(Number(intFromText(line())), top());
        break;
      case 0x71:
        memo.set(u8(), top());
        break;
      case 0x72:
        memo.set(u32(), top());
        break;
      case 0x94:
        memo.set(memo.size, top());
        break;
      case 0x67:
        push(memoGet(Number(intFromText(line()))));
        break;
      case 0x68:
        push(memoGet(u8()));
        break;
      case 0x6a:
        push(memoGet(u32()));
        break;

      // ----- globals, calls, persistent ids
      case 0x63: {
        const module = line();
        const name = line();
        push(findGlobal(module, name));
        break;
      }
      case 0x93: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL with non-string module or name');
        push(findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: {
        const args = pop();
        const cls = pop();
        push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: {
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof Map) || kwargs.size) fail('NEWOBJ_EX with keyword arguments is not supported');
        push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: {
        // BUILD: only dict attribute state (a state dict's `_metadata`) is accepted; it is stored, not applied.
        const state = pop();
        const obj = top();
        if (!(obj instanceof Map)) fail('BUILD on an object other than a dict is not supported');
        (obj as unknown as Record<symbol, unknown>)[DICT_STATE] = state;
        break;
      }
      case 0x50:
      case 0x51: {
        const pid = op === 0x50 ? line() : pop();
        if (!opts.persistentLoad) fail('persistent id in a pickle that should have none');
        push(opts.persistentLoad!(pid));
        break;
      }
      case 0x69: // INST and OBJ build arbitrary class instances: never allowed.
        fail(`INST opcode (instantiates '${line()}.${line()}') is not allowed`);
        break;
      case 0x6f:
        fail('OBJ opcode (instantiates an arbitrary class) is not allowed');
        break;
      case 0x82:
      case 0x83:
      case 0x84:
        fail('EXT opcodes (copyreg extension registry) are not allowed');
        break;
      case 0x97:
      case 0x98:
        fail('out-of-band buffers (protocol 5 NEXT_BUFFER/READONLY_BUFFER) are not supported');
        break;
      default:
        pos = opPos;
        fail(`unknown pickle opcode 0x${op.toString(16).padStart(2, '0')}`);
    }
  }
}

/** Decode a protocol-0 STRING argument: a Python repr in single or double quotes. */
function unquote(s: string, fail: (m: string) => never): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s.length < 2 || s[s.length - 1] !== q) fail(`bad STRING literal ${JSON.stringify(s)}`);
  const body = s.slice(1, -1);
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]/.test(e)) return String.fromCharCode(parseInt(e, 8));
    const map: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v' };
    return map[e] ?? '\\' + e;
  });
}
