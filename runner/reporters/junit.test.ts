import { describe, expect, it } from 'vitest';
import { applyExpectations } from '../expectations.ts';
import { lookup, REPLAY, RUN } from '../runResult.fixture.ts';
import { renderJunit, suiteOf } from './junit.ts';

interface Element {
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: Element[];
  text: string;
}

const ENTITY = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;

function decode(s: string): string {
  return s.replace(/&(amp|lt|gt|quot|apos|#\d+);/g, (_, e: string) =>
    e.startsWith('#') ? String.fromCodePoint(Number(e.slice(1))) : ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!,
  );
}

/** Checks what a real XML parser would: every character legal, every `&` an entity, tags balanced. */
function parseXml(xml: string): Element {
  expect(xml.startsWith('<?xml version="1.0" encoding="UTF-8"?>\n')).toBe(true);
  expect(xml).not.toMatch(/[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]/);
  const body = xml.slice(xml.indexOf('?>') + 2);
  for (let i = body.indexOf('&'); i >= 0; i = body.indexOf('&', i + 1)) {
    ENTITY.lastIndex = i;
    expect(ENTITY.test(body), body.slice(i, i + 10)).toBe(true);
  }
  const token = /<(\/?)([A-Za-z_][\w.-]*)((?:\s+[\w.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/y;
  const root: Element = { name: '#root', attrs: {}, children: [], text: '' };
  const stack = [root];
  let pos = 0;
  while (pos < body.length) {
    token.lastIndex = pos;
    const m = token.exec(body);
    expect(m, `unparsable XML at ${body.slice(pos, pos + 40)}`).not.toBeNull();
    const [whole, close, name, attrText, selfClose, text] = m!;
    pos += whole.length;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      expect(text).not.toContain('>');
      top.text += decode(text);
    } else if (close) {
      expect(top.name, `</${name}> closes <${top.name}>`).toBe(name);
      stack.pop();
    } else {
      const attrs: Record<string, string> = {};
      for (const [, k, v] of attrText.matchAll(/([\w.-]+)="([^"]*)"/g)) {
        expect(attrs, `duplicate attribute ${k}`).not.toHaveProperty([k]);
        attrs[k] = decode(v);
      }
      const el: Element = { name, attrs, children: [], text: '' };
      top.children.push(el);
      if (!selfClose) stack.push(el);
    }
  }
  expect(stack).toHaveLength(1);
  const elements = root.children;
  expect(elements).toHaveLength(1);
  return elements[0];
}

const all = (el: Element, name: string): Element[] =>
  el.children.flatMap((c) => (c.name === name ? [c] : [])).concat(el.children.flatMap((c) => all(c, name)));

describe('JUnit reporter', () => {
  const xml = renderJunit(RUN, lookup);
  const doc = parseXml(xml);

  it('is well formed with one testsuite per id prefix and one testcase per requirement', () => {
    expect(doc.name).toBe('testsuites');
    const suites = all(doc, 'testsuite').map((s) => s.attrs.name);
    expect(suites).toEqual(['virtio.split', 'virtio.packed', 'vhost-user.ring', 'vhost-user.robust', 'vhost-vdpa', 'vduse.create', 'virtio.status', 'virtio.features']);
    expect(all(doc, 'testcase').map((c) => c.attrs.name)).toEqual(RUN.results.map((r) => r.id));
    expect(doc.attrs).toMatchObject({ tests: '9', failures: '5', errors: '1', skipped: '2' });
  });

  it('maps verdicts to failure, error and skipped', () => {
    const kindOf = (id: string) => all(doc, 'testcase').find((c) => c.attrs.name === id)!.children.map((c) => c.name);
    expect(kindOf('virtio.split.used.id-was-available')).toEqual([]);
    expect(kindOf('virtio.split.used.len-before-idx')).toEqual(['failure']);
    expect(kindOf('vhost-user.ring.get-vring-base-stops')).toEqual(['failure']);
    expect(kindOf('vhost-user.robust.survives')).toEqual(['failure']);
    expect(kindOf('vduse.create.vq-num-limit')).toEqual(['error']);
    expect(kindOf('vhost-vdpa.enable-after-driver-ok')).toEqual(['skipped']);
    expect(kindOf('virtio.packed.wrap-counter')).toEqual(['skipped']);
  });

  it('escapes <&"\' and makes control characters visible, in text and attributes', () => {
    const failure = all(doc, 'failure').find((f) => f.attrs.type === 'FAIL')!;
    const shown = `<tag a="1" b='2'> & \\x01\\x1b end`;
    expect(failure.attrs.message).toContain(shown);
    expect(failure.text).toContain(`3. KICK vq=0 ${shown}`);
    expect(failure.text).toContain(`replay: ${REPLAY}`);
    expect(failure.text).toContain('expected outcomes:');
    expect(all(doc, 'error')[0].attrs.message).toContain(shown);
  });

  it('reports an expected deviation as skipped and an unexpected pass as a failure', () => {
    const run = applyExpectations(RUN, {
      target: 'simulated',
      expectations: {
        'virtio.split.used.len-before-idx': { verdict: 'FAIL', reason: 'bug "12" & co' },
        'virtio.split.used.id-was-available': { verdict: 'FAIL', reason: 'bug #7' },
      },
    });
    const cases = all(parseXml(renderJunit(run, lookup)), 'testcase');
    const child = (id: string) => cases.find((c) => c.attrs.name === id)!.children[0];
    expect(child('virtio.split.used.len-before-idx')).toMatchObject({ name: 'skipped', attrs: { message: 'expected FAIL: bug "12" & co' } });
    expect(child('virtio.split.used.id-was-available')).toMatchObject({ name: 'failure', attrs: { type: 'UNEXPECTED_PASS' } });
  });

  it('groups ids by their first two segments, never the whole id', () => {
    expect(suiteOf('virtio.split.used.len-before-idx')).toBe('virtio.split');
    expect(suiteOf('vhost-vdpa.enable-after-driver-ok')).toBe('vhost-vdpa');
    expect(suiteOf('lonely')).toBe('lonely');
  });
});

describe('JUnit times and reasons', () => {
  it('gives every testcase a time: its share of each suite that checked it, adding up to the suites', () => {
    const run = { ...RUN, suites: [{ name: 'split-ring', runs: 100, steps: 4000, durationMs: 800 }, { name: 'robust', runs: 10, steps: 10, durationMs: 300 }] };
    const doc = parseXml(renderJunit(run, lookup));
    const time = (id: string) => Number(all(doc, 'testcase').find((c) => c.attrs.name === id)!.attrs.time);
    // split-ring checked two requirements, robust one.
    expect(time('virtio.split.used.len-before-idx')).toBeCloseTo(0.4);
    expect(time('virtio.split.used.id-was-available')).toBeCloseTo(0.4);
    expect(time('vhost-user.robust.survives')).toBeCloseTo(0.3);
    expect(time('vhost-vdpa.enable-after-driver-ok')).toBe(0);
    const split = all(doc, 'testsuite').find((s) => s.attrs.name === 'virtio.split')!;
    expect(Number(split.attrs.time)).toBeCloseTo(0.8);
  });

  it("puts a skipped requirement's category and reason in its message", () => {
    const results = RUN.results.map((r) => (r.id === 'vhost-vdpa.enable-after-driver-ok' ? { ...r, category: 'not-applicable' as const } : r));
    const doc = parseXml(renderJunit({ ...RUN, results }, lookup));
    const skipped = all(doc, 'testcase').find((c) => c.attrs.name === 'vhost-vdpa.enable-after-driver-ok')!.children[0];
    expect(skipped.attrs.message).toBe('SKIP: not-applicable: no /dev/vhost-vdpa-0');
  });
});
