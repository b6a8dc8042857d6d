import { createHash } from 'node:crypto';
import type { AnyStage } from './stage.ts';

/**
 * The version of the stage kernel's snapshot format and stage semantics. Raise it when a stage's
 * state or its rules change: a snapshot taken by another kernel is then refused, not misread.
 */
export const KERNEL_VERSION = 1;

/**
 * What a snapshot must match to be restored: the kernel version and a hash of every stage's
 * name and settings fragment, in pipeline order. Settings no stage reads (ports, paths, tokens)
 * are not in it, so changing them never invalidates a snapshot.
 */
export function kernelFingerprint(stages: readonly AnyStage[]): string {
  const hash = createHash('sha256');
  for (const stage of stages) {
    const names = Object.keys(stage.settings).sort();
    hash.update(JSON.stringify([stage.name, names.map((n) => [n, stage.settings[n]])]));
  }
  return `k${KERNEL_VERSION}-${hash.digest('hex').slice(0, 24)}`;
}
