import {
  REPORT_CSS,
  escapeHtml,
  formatMetric,
  humanizeKey,
  formatNumber,
  formatTime,
  genericTable,
  redactedSettings,
  signClass,
} from './html-kit.ts';
import { groupedBarsSvg, scatterSvg, type XY } from './svg-chart.ts';

/**
 * `sapphire tune --html`: a self-contained report of a tuning study (static SVG charts, no script,
 * no network). The tuning code adapts its study to `TuneReport`.
 */
export type TuneParamValue = number | string | boolean;

export interface TuneTrial {
  number: number;
  params: Record<string, TuneParamValue>;
  /** objective value (null/NaN when the trial failed or has no value) */
  value: number | null;
  /** complete | failed | running | pruned | infeasible … */
  state: string;
  /** optional extra figures per trial (trades, maxDrawdownPct …), shown in the trial table */
  metrics?: Record<string, number | null>;
}

export interface TuneFold {
  fold: number;
  trainFrom: number;
  trainTo: number;
  testFrom: number;
  testTo: number;
  /** objective on the train window with the fold's best params */
  inSample: number | null;
  /** objective on the test window with the same params */
  outOfSample: number | null;
  params: Record<string, TuneParamValue>;
  /** Deflated Sharpe Ratio of the fold's winner (null when unavailable) */
  dsr?: number | null;
  /** Probability of Backtest Overfitting over the fold's trials (null when unavailable) */
  pbo?: number | null;
  /** the winner's part per strategy in each window (several strategies in one run) */
  strategies?: { inSample: TuneStrategyPart[]; outOfSample: TuneStrategyPart[] };
}

/** One strategy's share of a run: its trades, net PnL, win rate and mean capital share. */
export interface TuneStrategyPart {
  strategy: string;
  trades: number;
  netPnl: number;
  winRate: number;
  meanShare: number;
}

/** DSR and PBO of the study whose winner is used (see research/trial-returns.ts). */
export interface TuneLuck {
  trials: number;
  basis: 'daily' | 'bar' | null;
  dsr: {
    dsr: number;
    sharpe: number;
    benchmark: number;
    trials: number;
    variance: number;
    observations: number;
    skew: number;
    kurtosis: number;
  } | null;
  pbo: { pbo: number; blocks: number; splits: number; rows: number; trials: number } | null;
  note?: string;
}

export interface TuneReport {
  /** study name, shown as the title */
  name?: string;
  /** objective name, e.g. sharpe */
  objective: string;
  /** default maximize */
  direction?: 'maximize' | 'minimize';
  sampler?: string;
  symbols?: string[];
  from?: number;
  to?: number;
  trials: TuneTrial[];
  /** `fold`: the walk-forward fold whose train window the best trial won (the last one) */
  best: { number: number; value: number; params: Record<string, TuneParamValue>; fold?: number } | null;
  folds?: TuneFold[];
  /** settings of the study (secrets are redacted on render) */
  settings?: Record<string, unknown>;
  /** the Sharpe/Sortino estimator used for every fold */
  returnsBasis?: 'daily' | 'bar';
  /** how much of the winner is luck */
  luck?: TuneLuck | null;
}

const OK = '#4f8ff7';
const BEST = '#f7b84f';

function finite(v: number | null | undefined): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Running best of the finite values in trial-number order (for the history's step line). */
export function bestSoFar(trials: readonly TuneTrial[], direction: 'maximize' | 'minimize' = 'maximize'): XY[] {
  const out: XY[] = [];
  let best: number | null = null;
  for (const t of [...trials].sort((a, b) => a.number - b.number)) {
    if (!finite(t.value)) continue;
    if (best === null || (direction === 'maximize' ? t.value > best : t.value < best)) best = t.value;
    out.push({ x: t.number, y: best });
  }
  return out;
}

/** A setting name that may wrap after its underscores, so long names do not push columns off-screen. */
function breakable(name: string): string {
  return escapeHtml(name).replace(/_/g, '_<wbr>');
}

/** A parameter value for people: numbers to 6 significant digits (the exact value is in tune.json). */
export function paramText(v: TuneParamValue): string {
  if (typeof v !== 'number' || Number.isInteger(v) || !Number.isFinite(v)) return String(v);
  return String(Number(v.toPrecision(6)));
}

function paramTitle(t: TuneTrial): string {
  return `#${t.number} value ${formatNumber(t.value, 4)}\n${Object.entries(t.params)
    .map(([k, v]) => `${k}=${paramText(v)}`)
    .join('\n')}`;
}

function historySection(study: TuneReport): string {
  const dir = study.direction ?? 'maximize';
  const valued = study.trials.filter((t) => finite(t.value));
  const points: XY[] = valued.map((t) => ({
    x: t.number,
    y: t.value as number,
    title: paramTitle(t),
    color: study.best && t.number === study.best.number ? BEST : OK,
  }));
  const failed = study.trials.length - valued.length;
  if (points.length === 0) return '<p class="empty">No trial has a value.</p>';
  return (
    scatterSvg(points, { width: 1200, height: 300, xLabel: 'trial', yLabel: humanizeKey(study.objective), line: bestSoFar(study.trials, dir) }) +
    `<p class="note">${valued.length} trials with a value${failed ? `, ${failed} without (failed or infeasible)` : ''}; the line is the best so far (${dir}).</p>`
  );
}

function paramSection(study: TuneReport): string {
  const names = [...new Set(study.trials.flatMap((t) => Object.keys(t.params)))].sort();
  if (names.length === 0) return '<p class="empty">No parameters.</p>';
  const valued = study.trials.filter((t) => finite(t.value));
  const cells = names.map((name) => {
    const withParam = valued.filter((t) => name in t.params);
    const numeric = withParam.every((t) => typeof t.params[name] === 'number');
    let svg: string;
    if (numeric) {
      svg = scatterSvg(
        withParam.map((t) => ({
          x: t.params[name] as number,
          y: t.value as number,
          title: paramTitle(t),
          color: study.best && t.number === study.best.number ? BEST : OK,
        })),
        { width: 420, height: 240, xLabel: name, yLabel: study.objective },
      );
    } else {
      const cats = [...new Set(withParam.map((t) => String(t.params[name])))].sort();
      svg = scatterSvg(
        withParam.map((t, i) => ({
          // small deterministic jitter so equal categories do not hide each other
          x: cats.indexOf(String(t.params[name])) + (((i * 37) % 11) - 5) / 40,
          y: t.value as number,
          title: paramTitle(t),
          color: study.best && t.number === study.best.number ? BEST : OK,
        })),
        { width: 420, height: 240, xLabel: name, yLabel: study.objective, xCategories: cats },
      );
    }
    return `<div class="param" data-param="${escapeHtml(name)}"><h3>${escapeHtml(name)}</h3>${svg}</div>`;
  });
  return `<div class="params">${cells.join('')}</div>`;
}

function foldSection(folds: readonly TuneFold[], objective: string): string {
  if (folds.length === 0) return '<p class="empty">No walk-forward folds.</p>';
  const svg = groupedBarsSvg(
    folds.map((f) => ({ label: `fold ${f.fold}`, values: [f.inSample, f.outOfSample] })),
    [
      { name: 'in-sample', color: OK },
      { name: 'out-of-sample', color: BEST },
    ],
    { width: 1200, height: 260, yLabel: humanizeKey(objective) },
  );
  const rows = folds.map((f) => ({
    fold: f.fold,
    train: `${formatTime(f.trainFrom)} → ${formatTime(f.trainTo)}`,
    test: `${formatTime(f.testFrom)} → ${formatTime(f.testTo)}`,
    inSample: f.inSample,
    outOfSample: f.outOfSample,
    params: Object.entries(f.params)
      .map(([k, v]) => `${k}=${paramText(v)}`)
      .join(' '),
  }));
  const is = folds.map((f) => f.inSample).filter(finite);
  const oos = folds.map((f) => f.outOfSample).filter(finite);
  const avg = (xs: number[]): number => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : Number.NaN);
  const ratio = avg(is) !== 0 ? avg(oos) / avg(is) : Number.NaN;
  return (
    svg +
    `<p class="note">Mean in-sample ${formatNumber(avg(is), 3)}, mean out-of-sample ${formatNumber(avg(oos), 3)}, ratio ${formatNumber(ratio, 2)} (near 1 = the parameters generalise; far below = overfitted).</p>` +
    `<div class="scroll">${genericTable(rows, { inSample: 'In-sample', outOfSample: 'Out-of-sample' })}</div>`
  );
}

/**
 * Each fold winner's trades, PnL, win rate and capital share per strategy, in and out of sample —
 * only when a run held several strategies (with one, the fold table already says it all).
 */
function strategySection(folds: readonly TuneFold[]): string {
  const several = folds.some(
    (f) => (f.strategies?.inSample.length ?? 0) > 1 || (f.strategies?.outOfSample.length ?? 0) > 1,
  );
  if (!several) return '';
  const rows = folds.flatMap((f) =>
    (['inSample', 'outOfSample'] as const).flatMap((w) =>
      (f.strategies?.[w] ?? []).map((p) => ({
        fold: f.fold,
        window: w === 'inSample' ? 'in-sample' : 'out-of-sample',
        strategy: p.strategy,
        trades: p.trades,
        netPnl: p.netPnl,
        winRatePct: p.winRate * 100,
        meanShare: p.meanShare,
      })),
    ),
  );
  return (
    '<section id="strategies"><h2>Per strategy</h2>' +
    '<p class="note">Each fold’s winner, split by the strategy that opened each trade: trades, net PnL (USDT, after fees and funding), win rate and the mean share of capital the bandit gave its entries.</p>' +
    `<div class="scroll">${genericTable(rows, { netPnl: 'Net PnL', winRatePct: 'Win rate %', meanShare: 'Mean share' })}</div></section>`
  );
}

/** DSR and PBO of the winner, with what they mean and the gate --write-env applies. */
function luckSection(study: TuneReport): string {
  const l = study.luck;
  if (!l) return '<p class="empty">No DSR/PBO for this study.</p>';
  const per = l.basis === 'daily' ? 'day' : 'bar';
  const kpi = (k: string, v: string, cls = '') =>
    `<div class="kpi"><div class="k">${escapeHtml(k)}</div><div class="v ${cls}">${escapeHtml(v)}</div></div>`;
  const dsrOk = l.dsr ? l.dsr.dsr >= 0.5 : null;
  const pboOk = l.pbo ? l.pbo.pbo <= 0.5 : null;
  const cls = (ok: boolean | null) => (ok === null ? '' : ok ? 'pos' : 'neg');
  const rows: [string, string][] = [];
  if (l.dsr) {
    rows.push(
      [`winner's Sharpe (per ${per})`, formatNumber(l.dsr.sharpe, 4)],
      [`expected best of ${l.dsr.trials} skill-less trials (per ${per})`, formatNumber(l.dsr.benchmark, 4)],
      ['variance of the trials’ Sharpe ratios', formatNumber(l.dsr.variance, 6)],
      ['return observations T', String(l.dsr.observations)],
      ['skew / kurtosis of the winner’s returns', `${formatNumber(l.dsr.skew, 2)} / ${formatNumber(l.dsr.kurtosis, 2)}`],
    );
  }
  if (l.pbo) {
    rows.push(
      ['PBO blocks S / splits C(S, S/2)', `${l.pbo.blocks} / ${l.pbo.splits}`],
      ['PBO trials × rows', `${l.pbo.trials} × ${l.pbo.rows}`],
    );
  }
  const folds = (study.folds ?? []).filter((f) => f.dsr !== undefined || f.pbo !== undefined);
  const foldRows = folds.length
    ? `<h3>By fold</h3>${genericTable(
        folds.map((f) => ({ fold: f.fold, dsr: f.dsr ?? null, pbo: f.pbo ?? null })),
        { dsr: 'DSR', pbo: 'PBO' },
      )}`
    : '';
  return (
    `<div class="grid">${kpi('Deflated Sharpe Ratio', l.dsr ? formatNumber(l.dsr.dsr, 3) : '—', cls(dsrOk))}` +
    `${kpi('Probability of backtest overfitting', l.pbo ? formatNumber(l.pbo.pbo, 3) : '—', cls(pboOk))}</div>` +
    `<p class="note">DSR (Bailey &amp; López de Prado 2014): the probability that the winner's true Sharpe beats the best Sharpe that ${l.dsr?.trials ?? 'N'} trials without any skill would show, given its skew, kurtosis and track length. ` +
    `PBO (Bailey, Borwein, López de Prado &amp; Zhu 2015, CSCV): how often the trial that is best on half of the data is at or below the median on the other half. ` +
    `<code>--write-env</code> refuses a winner with DSR &lt; 0.5 or PBO &gt; 0.5 unless <code>--force</code>.` +
    (l.note ? ` ${escapeHtml(l.note)}.` : '') +
    `</p>` +
    (rows.length
      ? `<table class="data luck"><tbody>${rows.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td class="num">${escapeHtml(v)}</td></tr>`).join('')}</tbody></table>`
      : '') +
    foldRows
  );
}

function trialTable(study: TuneReport): string {
  const dir = study.direction ?? 'maximize';
  const sorted = [...study.trials].sort((a, b) => {
    const av = finite(a.value) ? a.value : null;
    const bv = finite(b.value) ? b.value : null;
    if (av === null && bv === null) return a.number - b.number;
    if (av === null) return 1;
    if (bv === null) return -1;
    return dir === 'maximize' ? bv - av : av - bv;
  });
  const params = [...new Set(study.trials.flatMap((t) => Object.keys(t.params)))].sort();
  // the objective has its own column: a metric of the same name would repeat it
  const metricNames = [...new Set(study.trials.flatMap((t) => Object.keys(t.metrics ?? {})))].filter(
    (m) => m.toLowerCase() !== study.objective.toLowerCase(),
  );
  const head =
    `<tr><th>#</th><th>State</th><th>${escapeHtml(humanizeKey(study.objective))} (objective)</th>` +
    metricNames.map((m) => `<th>${escapeHtml(humanizeKey(m))}</th>`).join('') +
    params.map((p) => `<th>${breakable(p)}</th>`).join('') +
    '</tr>';
  const body = sorted
    .map(
      (t) =>
        `<tr${study.best && t.number === study.best.number ? ' class="best"' : ''}><td class="num">${t.number}</td><td>${escapeHtml(t.state)}</td><td class="num ${signClass(t.value)}">${formatNumber(t.value, 4)}</td>` +
        metricNames.map((m) => `<td class="num">${formatMetric(m, t.metrics?.[m] ?? null)}</td>`).join('') +
        params
          .map((p) => {
            const v = t.params[p];
            return `<td class="num">${v === undefined ? '' : typeof v === 'number' ? formatNumber(v, Number.isInteger(v) ? 0 : 4) : escapeHtml(String(v))}</td>`;
          })
          .join('') +
        '</tr>',
    )
    .join('\n');
  return `<div class="scroll"><table class="data trials"><thead>${head}</thead><tbody>${body}</tbody></table></div>`;
}

function bestSection(study: TuneReport): string {
  if (!study.best) return '<p class="empty">No best trial (no trial has a value).</p>';
  const rows = Object.entries(study.best.params)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td class="num">${escapeHtml(paramText(v))}</td></tr>`)
    .join('');
  return (
    `<div class="grid"><div class="kpi"><div class="k">Best trial${study.best.fold !== undefined ? ` (fold ${study.best.fold} of ${study.folds?.length ?? study.best.fold}, train window)` : ''}</div><div class="v">#${study.best.number}</div></div>` +
    `<div class="kpi"><div class="k">${escapeHtml(humanizeKey(study.objective))}</div><div class="v">${formatNumber(study.best.value, 4)}</div></div>` +
    `<div class="kpi"><div class="k">Trials</div><div class="v">${study.trials.length}</div></div></div>` +
    `<h3>Parameters</h3><table class="data best-params"><tbody>${rows}</tbody></table>`
  );
}

const TUNE_CSS = `
.params{display:grid;grid-template-columns:repeat(auto-fill,minmax(420px,1fr));gap:10px}
.param h3{margin:4px 0;font-size:13px;color:var(--muted)}
tr.best td{background:rgba(247,184,79,0.12)}
table.trials th{white-space:normal;min-width:64px;vertical-align:bottom}
#folds table.data td{white-space:normal}#folds table.data td:last-child{overflow-wrap:anywhere;min-width:200px}
#trials .scroll{max-width:100%}
`;

/** Renders the study. Pure: same study, same string. */
export function renderTuneHtml(study: TuneReport): string {
  const title = study.name ? `Tuning study ${study.name}` : `Tuning study (${study.objective})`;
  const sub = [
    `objective ${study.objective} (${study.direction ?? 'maximize'})`,
    study.sampler ? `sampler ${study.sampler}` : '',
    study.symbols?.length ? study.symbols.join(', ') : '',
    study.from !== undefined && study.to !== undefined ? `${formatTime(study.from)} → ${formatTime(study.to)}` : '',
  ]
    .filter(Boolean)
    .map(escapeHtml)
    .join(' · ');
  const settings = study.settings
    ? `<section id="settings"><h2>Settings</h2><details><summary>Settings (secrets redacted)</summary><table class="data settings"><tbody>${redactedSettings(
        study.settings,
      )
        .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
        .join('')}</tbody></table></details></section>`
    : '';
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}${TUNE_CSS}</style>
</head>
<body>
<header><h1>${escapeHtml(title)}</h1><p>${sub}</p></header>
<main>
<section id="best"><h2>Best</h2>${bestSection(study)}</section>
<section id="history"><h2>Optimisation history</h2>${historySection(study)}</section>
<section id="params"><h2>Parameter vs objective</h2>${paramSection(study)}</section>
<section id="folds"><h2>In-sample vs out-of-sample by fold</h2>${foldSection(study.folds ?? [], study.objective)}${
    study.returnsBasis
      ? `<p class="note">Sharpe and Sortino of every window use ${study.returnsBasis === 'daily' ? 'daily returns' : 'per-bar returns'}, chosen once from the whole data's span.</p>`
      : ''
  }</section>
${strategySection(study.folds ?? [])}
<section id="luck"><h2>How much of the winner is luck</h2>${luckSection(study)}</section>
<section id="trials"><h2>Trials</h2>${trialTable(study)}</section>
${settings}
</main>
</body>
</html>
`;
}
