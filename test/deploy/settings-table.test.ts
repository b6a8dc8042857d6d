import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, renderConfiguration, settingRows } from '../../deploy/settings-table.ts';
import { SETTING_NAMES } from '../../pipelines/settings.ts';
import { SECRET_SETTING_NAMES } from '../../pipelines/settings-kit.ts';

describe('docs/configuration.md', () => {
  it('is exactly what the settings schema generates (run `npx tsx deploy/settings-table.ts` when this fails)', () => {
    expect(readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(renderConfiguration());
  });

  it('`tsx deploy/settings-table.ts --check` exits 0 on the committed file (for CI without vitest)', () => {
    const root = resolve(import.meta.dirname, '../..');
    const r = spawnSync(process.execPath, ['--import', 'tsx', join(root, 'deploy/settings-table.ts'), '--check'], {
      cwd: root,
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(r.status, r.stderr).toBe(0);
  });

  it('has one row per setting with its meaning, and marks every secret', () => {
    const rows = settingRows();
    expect(rows.map((r) => r.name)).toEqual(SETTING_NAMES);
    for (const row of rows) expect(row.meaning, row.name).not.toBe('');
    expect(
      rows
        .filter((r) => r.secret)
        .map((r) => r.name)
        .sort(),
    ).toEqual([...SECRET_SETTING_NAMES].sort());
    const text = renderConfiguration();
    for (const name of SECRET_SETTING_NAMES) expect(text).toContain(`| 🔒 \`${name}\` |`);
  });

  it('shows defaults, enums and bounds from the schema', () => {
    const byName = new Map(settingRows().map((r) => [r.name, r]));
    expect(byName.get('TRADING_MODE')).toMatchObject({ type: 'one of', default: '`paper`', rule: '`paper`, `live`' });
    expect(byName.get('PORT')).toMatchObject({ type: 'integer', default: '`8080`', rule: '≥ 0, ≤ 65535' });
    expect(byName.get('SECRETS_PROVIDER')).toMatchObject({ default: '`env`', rule: '`env`, `gcp`' });
    expect(byName.get('WALRUS_PUBLISHER_URL')).toMatchObject({ type: 'URL', default: '*(empty)*' });
    expect(byName.get('SYMBOLS')?.type).toBe('list');
  });
});
