import { SapphireError } from '../../pipelines/errors.ts';
import type { SnapshotData } from '../journal/journal-schema.ts';
import type { KernelIdentity } from './kernel.ts';

/** The flag (and its setting) that starts from the exchange when the journal's kernel differs. */
export const FROM_EXCHANGE_FLAG = '--from-exchange (START_FROM_EXCHANGE=true)';

const shown = (v: unknown): string => (v === undefined ? '(none)' : JSON.stringify(v));

/**
 * What differs between the kernel a journal was written with and this one, in words: each
 * setting by name with both values, the code version, the kernel version. Null when they match.
 */
export function kernelChanges(
  then: { kernel: string; fingerprint: string; code: string; settings: string },
  now: KernelIdentity,
): string | null {
  if (then.fingerprint === now.fingerprint) return null;
  const changes: string[] = [];
  if (then.kernel !== now.kernel) changes.push(`kernel ${then.kernel} → ${now.kernel}`);
  if (then.code !== now.code)
    changes.push(`code version ${then.code} → ${now.code} (the stages or strategies changed)`);
  const old = JSON.parse(then.settings) as Record<string, Record<string, unknown>>;
  for (const stage of new Set([...Object.keys(old), ...Object.keys(now.settings)])) {
    const a = old[stage] ?? {};
    const b = now.settings[stage] ?? {};
    for (const name of new Set([...Object.keys(a), ...Object.keys(b)])) {
      if (JSON.stringify(a[name]) !== JSON.stringify(b[name]))
        changes.push(`${name} ${shown(a[name])} → ${shown(b[name])}`);
    }
  }
  return changes.length > 0 ? changes.join(', ') : `fingerprint ${then.fingerprint} → ${now.fingerprint}`;
}

/**
 * What changed since the journal was written: compared with the last snapshot's kernel, or, with
 * none yet, with the kernel its header names (journals from before snapshots name none).
 */
export function journalKernelChanges(
  header: { kernel?: string; fingerprint?: string; code?: string; settings?: string } | undefined,
  snapshot: SnapshotData | null,
  now: KernelIdentity,
): string | null {
  if (snapshot !== null) return kernelChanges(snapshot, now);
  if (header?.kernel === undefined || header.fingerprint === undefined) return null;
  return kernelChanges(
    {
      kernel: header.kernel,
      fingerprint: header.fingerprint,
      code: header.code ?? '',
      settings: header.settings ?? '{}',
    },
    now,
  );
}

/** The refusal to start on a journal written by another kernel, naming what changed and the way out. */
export function kernelMismatch(where: string, changes: string): SapphireError {
  return new SapphireError(
    'JOURNAL_INVALID',
    `${where}: the journal was written with other strategy settings or code (${changes}). ` +
      'Replaying it would re-derive a history these settings never made and could send its orders. ' +
      `Start with the settings and code the journal was written with, or start from the exchange ` +
      `with ${FROM_EXCHANGE_FLAG}: the journal is then set aside, a new one begun and the book compared with the exchange`,
  );
}

/** The engine's part of a snapshot besides the stages: its own state, as JSON data. */
export interface EngineState {
  /** symbol → close time of the newest input bar */
  lastInput: [string, number][];
  externalCount: number;
  operatorHalted: boolean;
  flattenInFlight: [string, string][];
  projections: unknown;
  /** the venue reconciler's orders in flight (live mode), null without one */
  reconciler: unknown;
}

/** The snapshot record for `identity`, after `inputs` inputs. */
export function snapshotRecord(
  identity: KernelIdentity,
  inputs: number,
  lastInputTime: number,
  states: string,
  engine: string,
): SnapshotData {
  return {
    kernel: identity.kernel,
    fingerprint: identity.fingerprint,
    code: identity.code,
    settings: JSON.stringify(identity.settings),
    inputs,
    lastInputTime,
    states,
    engine,
  };
}
