// JUnit XML (DESIGN.md "runner/ and reports/"), the format CI systems render
// natively: one <testsuite> per id prefix (the spec area, e.g. `virtio.split`,
// `vhost-user.ring`), one <testcase> per requirement. CI dashboards turn any
// <failure>/<error> red, so only *unexpected* results become one; a deviation
// the expectations file already documents is reported as <skipped> with its
// reason, the way xfail tests are reported by other runners.
import { describeResult, notJudgedReason, visible, type RequirementLookup } from '../console.ts';
import type { RequirementResult, RunResult } from '../results.ts';

type Outcome =
  | { readonly kind: 'pass' }
  | { readonly kind: 'failure' | 'error' | 'skipped'; readonly type: string; readonly message: string; readonly body?: string };

/** `virtio.split.used.len-before-idx` → `virtio.split`; `vhost-vdpa.enable-after-driver-ok` → `vhost-vdpa`. */
export function suiteOf(id: string): string {
  const segments = id.split('.');
  return segments.slice(0, Math.max(1, Math.min(2, segments.length - 1))).join('.');
}

function outcomeOf(r: RequirementResult, lookup: RequirementLookup): Outcome {
  const detail = r.detail ? `: ${r.detail}` : '';
  if (!r.unexpected) {
    if (r.verdict === 'PASS') return { kind: 'pass' };
    const reason = notJudgedReason(r);
    const message = r.expected ? `expected ${r.verdict}: ${r.expectationReason ?? ''}` : `${r.verdict}${reason ? `: ${reason}` : ''}`;
    return { kind: 'skipped', type: r.verdict, message };
  }
  if (r.verdict === 'PASS') {
    return {
      kind: 'failure',
      type: 'UNEXPECTED_PASS',
      message: `passed, but the expectations file lists ${r.expected} (${r.expectationReason ?? ''}); remove the entry`,
    };
  }
  const body = describeResult(r, lookup).join('\n');
  // The engine's `actual` already leads with the verdict it observed.
  const message = r.failure ? r.failure.actual : `${r.verdict}${detail}`;
  return { kind: r.verdict === 'ERROR' ? 'error' : 'failure', type: r.verdict, message, body };
}

/**
 * Seconds per requirement. The engine times suites, not requirements, and one generated case
 * checks every requirement of its suite at once; so each requirement gets an equal share of
 * the time of every suite that checked it. The shares add up to the suites' time.
 */
function caseSeconds(run: RunResult): (r: RequirementResult) => number {
  const checkedBy = new Map<string, number>();
  for (const r of run.results) for (const s of r.suites) checkedBy.set(s, (checkedBy.get(s) ?? 0) + 1);
  const suiteMs = new Map(run.suites.map((s) => [s.name, s.durationMs]));
  return (r) => r.suites.reduce((sum, s) => sum + (suiteMs.get(s) ?? 0) / (checkedBy.get(s) ?? 1), 0) / 1000;
}

export function renderJunit(run: RunResult, lookup: RequirementLookup): string {
  const secondsOf = caseSeconds(run);
  const groups = new Map<string, RequirementResult[]>();
  for (const r of run.results) {
    const key = suiteOf(r.id);
    const group = groups.get(key);
    if (group) group.push(r);
    else groups.set(key, [r]);
  }
  const properties = [
    ['target', run.target.spec],
    ['target.name', run.target.name],
    ['target.version', run.target.version],
    ['seed', String(run.seed)],
    ['runs', String(run.runs)],
    ['strict', String(run.strict)],
    ['interrupted', String(run.interrupted)],
  ]
    .map(([name, value]) => `      <property name="${attr(name)}" value="${attr(value)}"/>`)
    .join('\n');

  const totals = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const suites: string[] = [];
  for (const [name, results] of groups) {
    const counts = { tests: results.length, failures: 0, errors: 0, skipped: 0 };
    let seconds = 0;
    const cases = results.map((r) => {
      const o = outcomeOf(r, lookup);
      seconds += secondsOf(r);
      const open = `    <testcase name="${attr(r.id)}" classname="${attr(name)}" time="${secondsOf(r).toFixed(3)}"`;
      if (o.kind === 'pass') return `${open}/>`;
      counts[o.kind === 'failure' ? 'failures' : o.kind === 'error' ? 'errors' : 'skipped'] += 1;
      const tag = `<${o.kind} type="${attr(o.type)}" message="${attr(o.message)}"`;
      const child = o.body === undefined ? `${tag}/>` : `${tag}>${text(o.body)}</${o.kind}>`;
      return `${open}>\n      ${child}\n    </testcase>`;
    });
    for (const k of ['tests', 'failures', 'errors', 'skipped'] as const) totals[k] += counts[k];
    suites.push(
      `  <testsuite name="${attr(name)}" tests="${counts.tests}" failures="${counts.failures}" errors="${counts.errors}" skipped="${counts.skipped}" time="${seconds.toFixed(3)}" timestamp="${attr(run.startedAt)}">\n` +
        `    <properties>\n${properties}\n    </properties>\n` +
        `${cases.join('\n')}\n  </testsuite>`,
    );
  }
  return (
    '<?xml version="1.0" encoding="UTF-8"?>\n' +
    `<testsuites name="vhostcheck" tests="${totals.tests}" failures="${totals.failures}" errors="${totals.errors}" skipped="${totals.skipped}" time="${(run.durationMs / 1000).toFixed(3)}">\n` +
    `${suites.join('\n')}\n</testsuites>\n`
  );
}

// `visible` also removes what XML 1.0 cannot carry even as a character
// reference (most C0 controls, lone surrogates, U+FFFE/U+FFFF).
const ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&apos;',
  // Attribute-value normalisation would turn these into spaces; references survive it.
  '\t': '&#9;',
  '\n': '&#10;',
};

function text(s: string): string {
  return visible(s).replace(/[&<>]/g, (c) => ENTITIES[c]);
}

function attr(s: string): string {
  return visible(s).replace(/[&<>"'\t\n]/g, (c) => ENTITIES[c]);
}
