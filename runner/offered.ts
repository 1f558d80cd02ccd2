// Whether a target offers a feature a requirement names (spec/requirements
// `features`), from the words the target itself reported: GET_FEATURES for
// virtio bits and VHOST_F_LOG_ALL, GET_BACKEND_FEATURES for VHOST_BACKEND_F_*.
// A rule whose feature is not offered cannot apply: UNSUPPORTED, naming it.
import { FEATURES } from '../spec/features.ts';
import { VHOST_BACKEND_F_IOTLB_ASID, VHOST_BACKEND_F_IOTLB_BATCH, VHOST_BACKEND_F_IOTLB_MSG_V2, VHOST_BACKEND_F_SUSPEND, VHOST_F_LOG_ALL } from '../spec/vhost/types.ts';
import { hasFeature } from '../spec/virtio/features.ts';
import { VHOST_BACKEND_F_RESUME } from '../spec/vhost/newerUapi.ts';

export interface OfferedWords {
  /** The device feature word (GET_FEATURES), if known. */
  readonly features?: bigint;
  /** The vhost backend feature word (VHOST_GET_BACKEND_FEATURES), if known. */
  readonly backendFeatures?: bigint;
}

const BACKEND_BITS: Readonly<Record<string, number>> = {
  VHOST_BACKEND_F_IOTLB_MSG_V2,
  VHOST_BACKEND_F_IOTLB_BATCH,
  VHOST_BACKEND_F_IOTLB_ASID,
  VHOST_BACKEND_F_SUSPEND,
  VHOST_BACKEND_F_RESUME,
};

/** True or false when the word the name lives in is known; undefined when it is not (or the name is not a feature). */
export function offersFeature(name: string, words: OfferedWords): boolean | undefined {
  if (name in BACKEND_BITS) return words.backendFeatures === undefined ? undefined : hasFeature(words.backendFeatures, BACKEND_BITS[name]!);
  if (words.features === undefined) return undefined;
  if (name === 'VHOST_F_LOG_ALL') return hasFeature(words.features, VHOST_F_LOG_ALL);
  const f = FEATURES.find((x) => x.name === name);
  return f === undefined ? undefined : hasFeature(words.features, f.bit);
}

/** The features of `names` the target certainly does not offer. */
export function featuresNotOffered(names: readonly string[] | undefined, words: OfferedWords): string[] {
  return (names ?? []).filter((n) => offersFeature(n, words) === false);
}
