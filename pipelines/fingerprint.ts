import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
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

/** The source trees whose code decides what the kernel does with an input. */
const KERNEL_SOURCES = ['operators', 'strategies', 'pipelines', 'backtests/simulated-venue.ts'];

let codeVersionMemo: string | null = null;

/**
 * A hash of the kernel's source code (stages, strategies, pipeline, simulated venue): a snapshot
 * taken by other code is refused, since its state may mean something else to this code. Read once
 * per process.
 */
export function codeVersion(): string {
  if (codeVersionMemo !== null) return codeVersionMemo;
  const root = fileURLToPath(new URL('..', import.meta.url));
  const files: string[] = [];
  for (const source of KERNEL_SOURCES) {
    const path = join(root, source);
    if (!existsSync(path)) continue;
    if (statSync(path).isFile()) files.push(source);
    else
      for (const name of readdirSync(path, { recursive: true }) as string[])
        if (name.endsWith('.ts')) files.push(join(source, name));
  }
  const hash = createHash('sha256');
  for (const file of files.sort()) hash.update(file).update(readFileSync(join(root, file)));
  codeVersionMemo = `c${hash.digest('hex').slice(0, 16)}`;
  return codeVersionMemo;
}
