import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONFIGURATION_DOC, renderConfiguration, settingRows } from '../../deploy/settings-table.ts';
import { SETTING_NAMES } from '../../pipelines/settings.ts';
import { SECRET_SETTING_NAMES } from '../../pipelines/settings-kit.ts';

describe('docs/configuration.md', () => {
  it('is exactly what the settings schema generates (run `npx tsx deploy/settings-table.ts` when this fails)', () => {
    expect(readFileSync(CONFIGURATION_DOC, 'utf8')).toBe(renderConfiguration());
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
