// Test support, imported only by *.test.ts: the laws every struct table must
// obey (DESIGN.md "spec/": one table drives encode, decode and the arbitrary;
// decoding failures are a typed DecodeError carrying the offset). Shared so
// each table module's test states which tables it covers, not how.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { arbitraryOf, decode, DecodeError, encode, fieldSize, type StructSpec } from './codec.ts';

// Fixed seed: same seed, same cases (DESIGN.md "Reliability rules").
const FC = { seed: 42 } as const;

function expectDecodeError(f: () => unknown, spec: StructSpec, offset: number): void {
  let thrown: unknown;
  try {
    f();
  } catch (e) {
    thrown = e;
  }
  expect(thrown).toBeInstanceOf(DecodeError);
  expect((thrown as DecodeError).offset).toBe(offset);
  expect((thrown as DecodeError).wireType).toBe(spec.name);
}

/** Registers the codec laws for every table in `tables` (keyed by export name). */
export function describeStructLaws(tables: Readonly<Record<string, StructSpec>>): void {
  for (const [exportName, spec] of Object.entries(tables)) {
    describe(`${exportName} (struct ${spec.name}, ${spec.size} bytes)`, () => {
      it('decode(encode(v)) == v, and encode zero-fills everything outside the fields', () => {
        fc.assert(
          fc.property(arbitraryOf(spec), (v) => {
            const bytes = encode(spec, v);
            expect(bytes.length).toBe(spec.size);
            const back = decode(spec, bytes) as Record<string, unknown>;
            for (const f of spec.fields) {
              const want = (v as Record<string, unknown>)[f.name];
              if (want instanceof Uint8Array) expect([...(back[f.name] as Uint8Array)]).toEqual([...want]);
              else expect(back[f.name]).toBe(want);
            }
            expect(Object.keys(back).sort()).toEqual(spec.fields.map((f) => f.name).sort());
            // Padding and unmodelled union tails must be 0 (bug-catalog L4, L13).
            const covered = new Uint8Array(spec.size);
            for (const f of spec.fields) covered.fill(1, f.offset, f.offset + fieldSize(f));
            covered.forEach((c, i) => {
              if (c === 0) expect(bytes[i]).toBe(0);
            });
          }),
          FC,
        );
      });

      it('truncated input is a DecodeError at the offset where the input ends', () => {
        fc.assert(
          fc.property(arbitraryOf(spec), fc.nat({ max: spec.size - 1 }), fc.nat({ max: 8 }), (v, keep, start) => {
            const framed = Buffer.concat([Buffer.alloc(start), encode(spec, v)]).subarray(0, start + keep);
            expectDecodeError(() => decode(spec, framed, start), spec, start + keep);
          }),
          FC,
        );
      });

      it('{ exact: true } rejects trailing bytes with a DecodeError at the end of the struct', () => {
        fc.assert(
          fc.property(arbitraryOf(spec), fc.integer({ min: 1, max: 64 }), fc.nat({ max: 8 }), (v, extra, start) => {
            const framed = Buffer.concat([Buffer.alloc(start), encode(spec, v), Buffer.alloc(extra)]);
            expectDecodeError(() => decode(spec, framed, start, { exact: true }), spec, start + spec.size);
            expect(() => decode(spec, framed, start)).not.toThrow();
          }),
          FC,
        );
      });

      it('arbitrary bytes, offsets and options yield a value or a DecodeError, never another exception', () => {
        const offset = fc.oneof(fc.integer({ min: -4, max: 2 * spec.size + 4 }), fc.double(), fc.constantFrom(Number.NaN, Infinity, -0));
        fc.assert(
          fc.property(fc.uint8Array({ maxLength: 2 * spec.size + 8 }), offset, fc.boolean(), (bytes, at, exact) => {
            try {
              decode(spec, bytes, at, { exact });
            } catch (e) {
              expect(e).toBeInstanceOf(DecodeError);
            }
          }),
          FC,
        );
      });
    });
  }
}
