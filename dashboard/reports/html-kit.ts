import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { redactSettingValue } from '../../secrets/redact.ts';

/**
 * Small helpers shared by the HTML reports and the dashboard: escaping, number formatting,
 * secret redaction, and access to the lightweight-charts standalone bundle in node_modules
 * (inlined into reports, served as an asset by the dashboard — never fetched from a CDN).
 */

const require = createRequire(import.meta.url);

/** Absolute path of the lightweight-charts standalone (IIFE, global `LightweightCharts`) bundle. */
export function chartBundlePath(): string {
  const pkg = require.resolve('lightweight-charts/package.json');
  return join(dirname(pkg), 'dist', 'lightweight-charts.standalone.production.js');
}

let bundleCache: string | null = null;

/** The standalone bundle's source, read once. */
export function chartBundle(): string {
  bundleCache ??= readFileSync(chartBundlePath(), 'utf8');
  return bundleCache;
}

/** The bundle made safe to sit inside an inline <script> element. */
export function inlineScript(source: string): string {
  return source.replace(/<\/(script)/gi, '<\\/$1').replace(/<!--/g, '<\\!--');
}

export function escapeHtml(value: unknown): string {
  return String(value)
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** JSON for a `<script type="application/json">` block: cannot close the element. NaN/±Infinity become null. */
export function jsonForScript(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/** Settings as [name, shown value] pairs, redacted by the one rule (secrets/redact.ts). */
export function redactedSettings(settings: Readonly<Record<string, unknown>>): [string, string][] {
  return Object.keys(settings)
    .sort()
    .map((k) => {
      const v = redactSettingValue(k, settings[k]);
      if (v === undefined || v === '') return [k, ''];
      return [k, Array.isArray(v) ? v.join(',') : String(v)];
    });
}

export function formatNumber(v: number | null | undefined, digits = 2): string {
  if (v === null || v === undefined || Number.isNaN(v)) return '—';
  if (v === Infinity) return '∞';
  if (v === -Infinity) return '−∞';
  const text = v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
  // a value that rounds to zero carries no sign: never "-0.00"
  return /^-0(\.0+)?$/.test(text) ? text.slice(1) : text;
}

export function formatDuration(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  const neg = ms < 0;
  let s = Math.round(Math.abs(ms) / 1000);
  const d = Math.floor(s / 86_400);
  s -= d * 86_400;
  const h = Math.floor(s / 3600);
  s -= h * 3600;
  const m = Math.floor(s / 60);
  s -= m * 60;
  const parts: string[] = [];
  if (d) parts.push(`${d}d`);
  if (h) parts.push(`${h}h`);
  if (m) parts.push(`${m}m`);
  if (!parts.length) parts.push(`${s}s`);
  return (neg ? '−' : '') + parts.slice(0, 2).join(' ');
}

/** ISO-like UTC timestamp without milliseconds: 2025-01-28 13:05 UTC. */
export function formatTime(ms: number | null | undefined): string {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return '—';
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** Names a reader knows as acronyms or by another word than the key's. */
const LABELS: Record<string, string> = {
  cagrPct: 'CAGR',
  sqn: 'SQN',
  winRate: 'Win rate',
  netPnl: 'Net PnL',
  avgReturnPct: 'Avg return',
  buyAndHoldPct: 'Buy & hold',
  maxGrossLeverage: 'Max gross leverage',
  maxConsecutiveWins: 'Max consecutive wins',
  maxConsecutiveLosses: 'Max consecutive losses',
  initialCapital: 'Initial capital',
  exposurePct: 'Exposure time',
  returnsBasis: 'Sharpe/Sortino returns',
};

/** "totalReturnPct" → "Total return", "maxDrawdownDurationMs" → "Max drawdown duration", "sqn" → "SQN". */
export function humanizeKey(key: string): string {
  const known = LABELS[key];
  if (known !== undefined) return known;
  const words = key
    .replace(/Pct$/, '')
    .replace(/DurationMs$/, 'Duration')
    .replace(/Ms$/, '')
    .replace(/([a-z0-9])([A-Z])/g, '$1 $2')
    .toLowerCase()
    .trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

/** Keys whose values are USDT amounts. */
const MONEY_KEY = /(Profit|Pnl|Equity|Paid|Balance|Capital|Notional|^expectancy|^fees|^funding)$/i;

/**
 * Formats one metric by its name's convention, with one precision per kind: `…Pct` already in
 * percent and `…Rate` fractions as percent (2 decimals), money in USDT (2 decimals), `…DurationMs`
 * / `…Ms` durations, counts as integers, other ratios with 2 decimals.
 */
export function formatMetric(key: string, v: unknown): string {
  if (v === null || v === undefined) return '—';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v !== 'number') return escapeHtml(String(v));
  if (/Ms$/.test(key)) return formatDuration(v);
  if (/Pct$/.test(key)) return Number.isFinite(v) ? `${formatNumber(v, 2)} %` : formatNumber(v);
  if (/[rR]ate$/.test(key)) return Number.isFinite(v) ? `${formatNumber(v * 100, 2)} %` : formatNumber(v);
  if (MONEY_KEY.test(key)) return Number.isFinite(v) ? `${formatNumber(v, 2)} USDT` : formatNumber(v);
  if (/Leverage$/.test(key)) return `${formatNumber(v, 2)}×`;
  if (/^(trades|bars|count|orders|fills|liquidations)$|Count$|Wins$|Losses$|^n[A-Z]/.test(key) && Number.isInteger(v))
    return formatNumber(v, 0);
  if (Number.isInteger(v) && Math.abs(v) < 1e6 && !/(ratio|sharpe|sortino|calmar|sqn|factor|dsr|pbo)/i.test(key))
    return formatNumber(v, 0);
  return formatNumber(v, 2);
}

/** Sign class for colouring. */
export function signClass(v: number | null | undefined): string {
  if (v === null || v === undefined || !Number.isFinite(v) || v === 0) return '';
  return v > 0 ? 'pos' : 'neg';
}

/** Renders an array of flat objects as a table, columns from the union of keys. */
export function genericTable(rows: readonly Record<string, unknown>[], labels: Record<string, string> = {}): string {
  if (rows.length === 0) return '<p class="empty">None.</p>';
  const cols: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!cols.includes(k) && typeof r[k] !== 'object') cols.push(k);
  const head = cols.map((c) => `<th>${escapeHtml(labels[c] ?? humanizeKey(c))}</th>`).join('');
  const body = rows
    .map(
      (r) =>
        `<tr>${cols
          .map((c) => {
            const v = r[c];
            const cls = typeof v === 'number' && /(Pnl|Pct|Profit|Return)/i.test(c) ? signClass(v) : '';
            return `<td class="${typeof v === 'number' ? `num ${cls}` : ''}">${formatMetric(c, v)}</td>`;
          })
          .join('')}</tr>`,
    )
    .join('\n');
  return `<table class="data"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

export const REPORT_CSS = `
:root{--bg:#0f1419;--panel:#161d26;--line:#263241;--text:#d7dee8;--muted:#8899aa;--pos:#26a69a;--neg:#ef5350;--accent:#4f8ff7}
*{box-sizing:border-box}
body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;background:var(--bg);color:var(--text)}
header{padding:16px 20px;border-bottom:1px solid var(--line)}
header h1{margin:0 0 4px;font-size:20px}
header p{margin:0;color:var(--muted)}
main{padding:12px 20px 40px;max-width:1400px;margin:0 auto}
section{background:var(--panel);border:1px solid var(--line);border-radius:8px;padding:12px 14px;margin:14px 0}
section h2{margin:0 0 10px;font-size:16px}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(170px,1fr));gap:8px}
.kpi{border:1px solid var(--line);border-radius:6px;padding:8px 10px}
.kpi .k{color:var(--muted);font-size:12px}
.kpi .v{font-size:17px;font-variant-numeric:tabular-nums}
.chart{width:100%;height:320px}
.chart.small{height:170px}
.scroll{overflow:auto;max-height:520px}
table.data{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
table.data th,table.data td{padding:4px 8px;border-bottom:1px solid var(--line);text-align:left;white-space:nowrap}
table.data th{background:var(--panel);color:var(--muted);font-weight:600}
.scroll table.data thead th{position:sticky;top:0}
td.num{text-align:right}
.pos{color:var(--pos)}.neg{color:var(--neg)}
.empty,.note{color:var(--muted)}
details summary{cursor:pointer;color:var(--muted)}
svg text{fill:var(--muted);font-size:11px}
svg.plot{display:block;width:100%}
.legend{display:flex;gap:16px;color:var(--muted);font-size:12px;margin:4px 0}
.legend i{display:inline-block;width:10px;height:10px;margin-right:5px}
.tip{display:none;position:absolute;z-index:3;max-width:260px;padding:6px 8px;border:1px solid var(--line);border-radius:6px;background:var(--panel);color:var(--text);font-size:12px;white-space:pre-line;pointer-events:none}
table.sortable th{cursor:pointer}table.sortable th[aria-sort=ascending]::after{content:' ▲'}table.sortable th[aria-sort=descending]::after{content:' ▼'}
.filter input{background:var(--bg);color:var(--text);border:1px solid var(--line);border-radius:4px;padding:4px 8px;min-width:260px}
@media (max-width:640px){main{padding:8px}section{padding:8px}.chart{height:240px}}
`;
