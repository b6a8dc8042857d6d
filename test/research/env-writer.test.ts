import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  chmodSync,
  lstatSync,
  mkdirSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeEnvValues, formatEnvValue } from '../../research/env-writer.ts';
import { parseEnvFile } from '../../pipelines/load-settings.ts';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'sapphire-env-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ORIGINAL = [
  '# Sapphire settings',
  '',
  'SYMBOLS=BTCUSDT,ETHUSDT   # the pairs',
  '# MOMENTUM_THRESHOLD=9 (a commented-out line stays as it is)',
  'export MOMENTUM_THRESHOLD=0.5',
  'ASTER_API_KEY="abc def"',
  "ATR_STOP_MULTIPLE='2.5' # quoted, with comment",
  'SIZING_MODE=fixed',
  '',
].join('\n');

describe('.env writer', () => {
  it('changes only the tuned keys, keeps every other line and comment byte for byte, backs up', () => {
    const path = join(dir, '.env');
    writeFileSync(path, ORIGINAL);
    chmodSync(path, 0o640);
    const r = writeEnvValues(
      path,
      { MOMENTUM_THRESHOLD: 1.25, ATR_STOP_MULTIPLE: 3, TRAILING_STEP: 0.004 },
      { note: 'tuned', now: new Date('2026-01-02T03:04:05.678Z') },
    );
    const text = readFileSync(path, 'utf8');
    expect(text).toBe(
      [
        '# Sapphire settings',
        '',
        'SYMBOLS=BTCUSDT,ETHUSDT   # the pairs',
        '# MOMENTUM_THRESHOLD=9 (a commented-out line stays as it is)',
        'export MOMENTUM_THRESHOLD=1.25',
        'ASTER_API_KEY="abc def"',
        'ATR_STOP_MULTIPLE=3 # quoted, with comment',
        'SIZING_MODE=fixed',
        '',
        '# tuned',
        'TRAILING_STEP=0.004',
        '',
      ].join('\n'),
    );
    expect(r.changed).toEqual(['MOMENTUM_THRESHOLD', 'ATR_STOP_MULTIPLE']);
    expect(r.added).toEqual(['TRAILING_STEP']);
    expect(r.backups).toEqual([`${path}.bak`, `${path}.bak.20260102T030405Z`]);
    for (const b of r.backups) expect(readFileSync(b, 'utf8')).toBe(ORIGINAL);
    expect(statSync(path).mode & 0o777).toBe(0o640);
    // reads back to what we meant
    const parsed = parseEnvFile(text, path);
    expect(parsed.get('MOMENTUM_THRESHOLD')).toBe('1.25');
    expect(parsed.get('ASTER_API_KEY')).toBe('abc def');
    expect(parsed.get('SYMBOLS')).toBe('BTCUSDT,ETHUSDT');
    // no temp file left behind
    expect(readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('leaves the old file untouched when the write fails before the rename (a crash mid-write)', () => {
    const path = join(dir, '.env');
    writeFileSync(path, ORIGINAL);
    expect(() =>
      writeEnvValues(
        path,
        { MOMENTUM_THRESHOLD: 2 },
        {
          beforeRename: () => {
            throw new Error('disk full');
          },
        },
      ),
    ).toThrow(/could not write \(disk full\); the old file is unchanged/);
    expect(readFileSync(path, 'utf8')).toBe(ORIGINAL);
    expect(readdirSync(dir).filter((f) => f.includes('tmp'))).toEqual([]);
  });

  it('refuses to rewrite a file it cannot parse', () => {
    const path = join(dir, '.env');
    writeFileSync(path, 'this is not a setting\n');
    expect(() => writeEnvValues(path, { MOMENTUM_THRESHOLD: 2 })).toThrow(/ENV_FILE_INVALID/);
    expect(readFileSync(path, 'utf8')).toBe('this is not a setting\n');
    expect(existsSync(`${path}.bak`)).toBe(false);
  });

  it('creates a missing file, and quotes values that need it', () => {
    const path = join(dir, 'new.env');
    const r = writeEnvValues(path, { A_B: 'x y', N: 1e-7 });
    expect(r.backups).toEqual([]);
    expect(parseEnvFile(readFileSync(path, 'utf8'), path)).toEqual(
      new Map([
        ['A_B', 'x y'],
        ['N', '1e-7'],
      ]),
    );
    expect(formatEnvValue('a"b')).toBe('"a\\"b"');
  });

  it('keeps CRLF line endings and a file without a final newline', () => {
    const path = join(dir, 'crlf.env');
    writeFileSync(path, '# c\r\nMOMENTUM_THRESHOLD=1\r\nX=2');
    writeEnvValues(path, { MOMENTUM_THRESHOLD: 0.7 });
    expect(readFileSync(path, 'utf8')).toBe('# c\r\nMOMENTUM_THRESHOLD=0.7\r\nX=2');
  });

  it('writes through a symlinked .env to its target: the link stays a link', () => {
    mkdirSync(join(dir, 'dotfiles'));
    const target = join(dir, 'dotfiles', 'sapphire.env');
    writeFileSync(target, 'SIZING_MODE=fixed\nMOMENTUM_THRESHOLD=0.5\n');
    const link = join(dir, '.env');
    symlinkSync('dotfiles/sapphire.env', link);
    const r = writeEnvValues(link, { MOMENTUM_THRESHOLD: 0.75 });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(target, 'utf8')).toBe('SIZING_MODE=fixed\nMOMENTUM_THRESHOLD=0.75\n');
    expect(r.path).toBe(target);
    expect(r.backups[0]).toBe(`${target}.bak`);
    expect(readFileSync(`${target}.bak`, 'utf8')).toContain('MOMENTUM_THRESHOLD=0.5');
  });

  it('creates the target of a dangling .env link rather than replacing the link', () => {
    const link = join(dir, '.env');
    symlinkSync('made-later.env', link);
    writeEnvValues(link, { MOMENTUM_THRESHOLD: 0.75 });
    expect(lstatSync(link).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, 'made-later.env'), 'utf8')).toBe('MOMENTUM_THRESHOLD=0.75\n');
  });
});
