import { describe, expect, it } from 'vitest';
import { body, encodeRequest, ForkedCall, Op, ReplyReader } from './protocol.ts';

function reply(id: number, result: number, payload: Buffer): Buffer {
  const head = Buffer.alloc(12);
  head.writeUInt32LE(8 + payload.length, 0);
  head.writeUInt32LE(id, 4);
  head.writeInt32LE(result, 8);
  return Buffer.concat([head, payload]);
}

describe('agent protocol frames', () => {
  it('lays a request out as length, id, op, reserved, body (agent.c reads it so)', () => {
    const f = encodeRequest(7, Op.ioctl, body.ioctl(3, 0x8008af00, new Uint8Array(8), 8));
    expect(f.readUInt32LE(0)).toBe(f.length - 4);
    expect(f.readUInt32LE(4)).toBe(7);
    expect(f.readUInt16LE(8)).toBe(Op.ioctl);
    // fd, request, out length, mode 1 (by pointer), the unused by-value word, then the 8 payload bytes.
    expect(f.subarray(12).toString('hex')).toBe(`03000000${'00af0880'}08000000${'01000000'}${'00'.repeat(8)}${'00'.repeat(8)}`);
    expect(body.ioctl(3, 0x4008af00, 5n, 0).readBigUInt64LE(16)).toBe(5n);
    expect(body.ioctl(3, 0x4008af00, 5n, 0).readUInt32LE(12)).toBe(0);
    expect(body.vdpa(['dev', 'add'], 1000).subarray(4).toString()).toBe('dev\0add\0');
  });

  it('lays socket and bind out as agent.c reads them: domain, type, protocol; fd, then the sockaddr bytes', () => {
    expect(body.socket(17, 3, 0xb588).toString('hex')).toBe('110000000300000088b50000');
    expect(body.bind(7, Uint8Array.from([0x11, 0, 0x88, 0xb5])).toString('hex')).toBe('070000001100' + '88b5');
    expect([Op.socket, Op.bind]).toEqual([20, 21]);
  });

  it('lays a forked call out as kind, fd, request, pad, integer, data (agent.c OP_FORKED reads it so)', () => {
    const b = body.forked(ForkedCall.write, 5, 0, 0n, Uint8Array.of(0xaa, 0xbb));
    expect(b.toString('hex')).toBe(`02000000${'05000000'}${'00000000'}${'00000000'}${'00'.repeat(8)}aabb`);
    expect(body.forked(ForkedCall.ioctlInteger, 3, 0xaf01, 7n, new Uint8Array()).readBigUInt64LE(16)).toBe(7n);
  });

  it('cuts replies out of a stream however it is chunked, negative results included', () => {
    const stream = Buffer.concat([reply(0, 1, Buffer.alloc(0)), reply(9, -22, Buffer.alloc(0)), reply(10, 0, Buffer.from('abc'))]);
    for (const cut of [1, 5, 12, 13, stream.length - 1]) {
      const r = new ReplyReader();
      const frames = [...r.push(stream.subarray(0, cut)), ...r.push(stream.subarray(cut))];
      expect(frames.map((f) => [f.id, f.result, f.body.toString()])).toEqual([
        [0, 1, ''],
        [9, -22, ''],
        [10, 0, 'abc'],
      ]);
    }
  });

  it('refuses a length no agent sends, rather than waiting for gigabytes', () => {
    const bad = Buffer.alloc(12);
    bad.writeUInt32LE(0xffffff00, 0);
    expect(() => new ReplyReader().push(bad)).toThrow(/not a frame length/);
    const short = Buffer.alloc(12);
    short.writeUInt32LE(4, 0);
    expect(() => new ReplyReader().push(short)).toThrow(/not a frame length/);
  });

  it('refuses to send a body larger than the agent accepts', () => {
    expect(() => encodeRequest(1, Op.write, new Uint8Array(5 << 20))).toThrow(RangeError);
  });
});
