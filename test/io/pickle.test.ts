// Opcode-level tests of the restricted pickle VM, on pickles written byte by byte.
import { ForbiddenGlobalError, PickleError, PyCallable, UnpickleOptions, unpickle } from '../../src/io/pickle';
import { PickleWriter } from './helpers';

const none: UnpickleOptions = { where: 'test', resolveGlobal: () => undefined };

function run(bytes: number[] | Buffer, opts: UnpickleOptions = none): unknown {
  return unpickle(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), opts);
}

describe('restricted unpickler', () => {
  it('decodes scalars, strings, tuples, lists and dicts', () => {
    // {'a': (1, -2, 300, 70000), 'b': [True, None, 1.5], 'c': b'xy'} in protocol 2/3 opcodes
    const w = new PickleWriter().raw(0x7d).str('a').int(1);
    w.raw(0x4a, 0xfe, 0xff, 0xff, 0xff).int(300).raw(0x87, 0x85); // BININT -2, BININT2 300, TUPLE3, TUPLE1
    const v = run(w.raw(0x73).stop()) as Map<string, unknown>;
    expect(v.get('a')).toEqual([[1, -2, 300]]);
    expect(Object.isFrozen(v.get('a'))).toBe(true);
    expect(run(new PickleWriter().int(70000).stop())).toBe(70000);
    const list = run([0x80, 2, 0x5d, 0x28, 0x88, 0x4e, 0x47, 0x3f, 0xf8, 0, 0, 0, 0, 0, 0, 0x65, 0x2e]);
    expect(list).toEqual([true, null, 1.5]);
    expect(run([0x80, 3, 0x43, 2, 0x78, 0x79, 0x2e])).toEqual(Buffer.from('xy'));
  });

  it('decodes LONG1 including big and negative values', () => {
    expect(run([0x80, 2, 0x8a, 2, 0xff, 0x7f, 0x2e])).toBe(32767);
    expect(run([0x80, 2, 0x8a, 1, 0xff, 0x2e])).toBe(-1);
    expect(run([0x80, 2, 0x8a, 9, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0x2e])).toBe(1n << 64n);
  });

  it('supports memo (BINPUT/BINGET, MEMOIZE) and protocol-4 STACK_GLOBAL with FRAME', () => {
    expect(run([0x80, 2, 0x58, 1, 0, 0, 0, 0x7a, 0x71, 0, 0x68, 0, 0x86, 0x2e])).toEqual(['z', 'z']);
    const fn = new PyCallable('m.f', (args) => `called(${args.join(',')})`);
    const opts = { where: 't', resolveGlobal: (m: string, n: string) => (m === 'm' && n === 'f' ? fn : undefined) };
    const p4 = [0x80, 4, 0x95, 20, 0, 0, 0, 0, 0, 0, 0, 0x8c, 1, 0x6d, 0x94, 0x8c, 1, 0x66, 0x94, 0x93, 0x94, 0x4b, 7, 0x85, 0x52, 0x2e];
    expect(run(p4, opts)).toBe('called(7)');
  });

  it('refuses every global not on the allowlist at GLOBAL time, before any call', () => {
    for (const [m, n] of [['os', 'system'], ['posix', 'system'], ['builtins', 'eval'], ['__builtin__', 'exec'], ['subprocess', 'check_output'], ['nt', 'system']]) {
      const bytes = new PickleWriter().global(m, n).stop();
      expect(() => run(bytes)).toThrow(ForbiddenGlobalError);
      expect(() => run(bytes)).toThrow(`'${m}.${n}'`);
    }
    // STACK_GLOBAL is checked the same way.
    expect(() => run([0x80, 4, 0x8c, 2, 0x6f, 0x73, 0x8c, 6, ...Buffer.from('system'), 0x93, 0x2e])).toThrow(/'os\.system'/);
  });

  it('refuses INST, OBJ, EXT and BUILD on non-dicts', () => {
    expect(() => run(Buffer.from('(ios\nsystem\n.', 'latin1'))).toThrow(/INST opcode \(instantiates 'os\.system'\)/);
    expect(() => run([0x80, 2, 0x28, 0x6f, 0x2e])).toThrow(/OBJ opcode/);
    expect(() => run([0x80, 2, 0x82, 1, 0x2e])).toThrow(/EXT opcodes/);
    expect(() => run([0x80, 2, 0x5d, 0x7d, 0x62, 0x2e])).toThrow(/BUILD on an object other than a dict/);
  });

  it('refuses REDUCE on something that is not an allowed callable', () => {
    expect(() => run([0x80, 2, 0x4b, 1, 0x29, 0x52, 0x2e])).toThrow(/REDUCE on a value that is not an allowed callable/);
  });

  it('reports truncation, bad protocol, unknown opcodes and persistent ids without a loader', () => {
    expect(() => run([0x80, 2, 0x58, 9, 0, 0, 0, 0x61])).toThrow(/truncated pickle/);
    expect(() => run([0x80, 6, 0x2e])).toThrow(/unsupported pickle protocol 6/);
    expect(() => run([0x80, 2, 0xff])).toThrow(/unknown pickle opcode 0xff/);
    expect(() => run([0x80, 2, 0x4b, 1, 0x51, 0x2e])).toThrow(PickleError);
  });

  it('accepts protocol-0 text opcodes', () => {
    expect(run(Buffer.from("(I12\nI01\nF0.25\nS'a\\'b'\nL5L\ntp0\n.", 'latin1'))).toEqual([12, true, 0.25, "a'b", 5]);
  });
});
