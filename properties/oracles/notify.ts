// Notification oracle: whether a used-buffer notification arrived, against
// the rule the model derived from flags / EVENT_IDX (virtio 1.2 §2.7.10, §2.8.10).
import type { NotifyRule } from '../../model/notify.ts';
import { fail, type Observation, pass } from './observation.ts';

const CALL_INVALID_FD = 'vhost-user.vring.call-invalid-fd';

export function checkNotification(rule: NotifyRule, called: boolean, callFd: 'none' | 'valid' | 'invalid'): Observation[] {
  if (callFd === 'invalid') return [called ? fail(CALL_INVALID_FD, 'the device signalled a call notifier the front-end declared invalid') : pass(CALL_INVALID_FD)];
  if (callFd === 'none' || rule.kind === 'may') return [];
  if (rule.kind === 'must') return [called ? pass(rule.requirement) : fail(rule.requirement, 'no used-buffer notification although one was required')];
  return [called ? { requirement: rule.requirement, verdict: 'NON_STRICT', detail: 'notification sent although suppressed' } : pass(rule.requirement)];
}
