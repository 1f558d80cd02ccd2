// Waits scaled from measured latency: never below the floor, whole milliseconds (poll(2) takes no
// fraction: a fractional wait was an internal error, exit 3), capped, and asynchronous only after
// repeated slow answers.
import { describe, expect, it } from 'vitest';
import { Latency } from './latency.ts';

describe('Latency', () => {
  it('scales from the slowest answer, in whole milliseconds, never below the floor nor past the cap', () => {
    const l = new Latency();
    expect(l.scale(300)).toBe(300);
    l.observe(6.36287);
    expect(Number.isInteger(l.scale(0))).toBe(true);
    expect(l.scale(0)).toBe(32);
    expect(l.scale(300)).toBe(300);
    l.observe(10_000);
    expect(l.scale(50)).toBe(1500);
  });

  it('calls a target asynchronous only after several slow answers, not after one hiccup', () => {
    const l = new Latency();
    l.observe(40);
    expect(l.asynchronous).toBe(false);
    l.observe(12);
    l.observe(30);
    expect(l.asynchronous).toBe(true);
  });
});
