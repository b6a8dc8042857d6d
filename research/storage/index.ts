import { JournalStorage } from './journal.ts';
import { RedisStorage } from './redis.ts';
import type { StudyStorage } from './types.ts';

export type { StudyStorage, StudyMeta, TrialRecord, TrialResult, TrialState } from './types.ts';
export { JournalStorage } from './journal.ts';
export { RedisStorage, redactUrl } from './redis.ts';

/** `redis://…` / `rediss://…` → Redis; anything else is a journal file path. */
export async function openStorage(spec: string): Promise<StudyStorage> {
  if (/^rediss?:\/\//.test(spec)) return RedisStorage.connect(spec);
  return new JournalStorage(spec);
}
