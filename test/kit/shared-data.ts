import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { REPO } from './cli.ts';

/**
 * A data set of ../shared/data beside the repository (this machine and CI have it; a fresh clone
 * may not: tests on it skipIf it is absent). A git worktree one level deeper looks one level up.
 */
export function sharedData(name: string): string {
  const candidates = [join(REPO, '../shared/data', name), join(REPO, '../../shared/data', name)];
  return candidates.find((p) => existsSync(p)) ?? candidates[0]!;
}
