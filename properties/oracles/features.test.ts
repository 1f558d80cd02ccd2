import { describe, expect, it } from 'vitest';
import { bit } from '../../spec/virtio/features.ts';
import { VIRTIO_NET_F_CTRL_VQ, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_MQ } from '../../spec/virtio/net.ts';
import { checkOfferedDependencies } from './features.ts';

describe('offered-feature dependencies (virtio 1.2 §2.2.1)', () => {
  it('fails an offer of GUEST_TSO4 without GUEST_CSUM, or MQ without CTRL_VQ', () => {
    expect(checkOfferedDependencies(bit(VIRTIO_NET_F_GUEST_TSO4), 'net')[0]).toMatchObject({ verdict: 'FAIL', requirement: 'virtio.features.dependencies-offered' });
    expect(checkOfferedDependencies(bit(VIRTIO_NET_F_MQ), 'net')[0].verdict).toBe('FAIL');
  });

  it('passes an offer whose every dependency is offered too', () => {
    expect(checkOfferedDependencies(bit(VIRTIO_NET_F_GUEST_TSO4) | bit(VIRTIO_NET_F_GUEST_CSUM) | bit(VIRTIO_NET_F_MQ) | bit(VIRTIO_NET_F_CTRL_VQ), 'net')[0].verdict).toBe('PASS');
  });
});
