import type { BacktestResult } from '../../backtests/run-backtest.ts';
import type { BarColumns } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import {
  REPORT_CSS,
  chartBundle,
  escapeHtml,
  formatDuration,
  formatMetric,
  formatNumber,
  formatTime,
  genericTable,
  humanizeKey,
  inlineScript,
  jsonForScript,
  redactedSettings,
  signClass,
} from './html-kit.ts';
import {
  TRADE_TABLE_SCRIPT,
  buyAndHoldPoints,
  distributionSection,
  drawdownTable,
  rollingData,
  tradeSegments,
  tradeTable,
} from './backtest-tearsheet-html.ts';

/**
 * `sapphire backtest --html`: one self-contained HTML file (the lightweight-charts bundle and the
 * data are inlined; it opens offline, from file://, with no network request).
 *
 * Sections: headline figures, every scalar metric (generic: whatever BacktestMetrics holds),
 * equity + drawdown charts (time-synchronised), monthly returns, exit reasons, per symbol,
 * risk denials and state changes, the trade list, and the settings used (secrets redacted).
 * The output depends only on its inputs (no wall clock), so the same run gives the same file.
 */
export interface BacktestHtmlMeta {
  dataDir: string;
  settings: Settings;
  from?: number;
  to?: number;
  /** page title; defaults to "Backtest <symbols>" */
  title?: string;
  /** the bars the run used: adds a price chart per symbol with every entry and exit marked */
  series?: readonly BarColumns[];
}

/** Most candles per price chart; longer runs are aggregated into OHLC buckets of whole bars. */
export const MAX_CANDLES = 3000;
/** Exit markers carry their reason as text only when fewer candles than this are visible. */
export const LABEL_ZOOM_BARS = 120;
/** Most trades marked per symbol (the latest); all are in the trade list up to MAX_TRADE_ROWS. */
export const MAX_MARKED_TRADES = 1500;

export interface Candle {
  time: number;
  open: number;
  high: number;
  low: number;
  close: number;
}

export interface ChartMarker {
  time: number;
  position: 'aboveBar' | 'belowBar';
  shape: 'arrowUp' | 'arrowDown' | 'circle';
  color: string;
  text: string;
}

/** OHLC candles (seconds) of bars with openTime in [from, to), aggregated to at most `max`. */
export function candles(c: BarColumns, from: number, to: number, max = MAX_CANDLES): Candle[] {
  let lo = 0;
  while (lo < c.length && c.openTime[lo]! < from) lo++;
  let hi = lo;
  while (hi < c.length && c.openTime[hi]! < to) hi++;
  const n = hi - lo;
  const size = Math.max(1, Math.ceil(n / max));
  const out: Candle[] = [];
  for (let i = lo; i < hi; i += size) {
    const end = Math.min(hi, i + size);
    let high = -Infinity;
    let low = Infinity;
    for (let j = i; j < end; j++) {
      if (c.high[j]! > high) high = c.high[j]!;
      if (c.low[j]! < low) low = c.low[j]!;
    }
    out.push({ time: Math.floor(c.openTime[i]! / 1000), open: c.open[i]!, high, low, close: c.close[end - 1]! });
  }
  return out;
}

/** Entry (arrow) and exit (circle) markers of a symbol's trades, on the candle containing each time. */
export function tradeMarkers(trades: BacktestResult['trades'], bars: readonly Candle[]): ChartMarker[] {
  if (bars.length === 0) return [];
  const snap = (ms: number): number | null => {
    const t = Math.floor(ms / 1000);
    let lo = 0;
    let hi = bars.length - 1;
    let found: number | null = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (bars[mid]!.time <= t) {
        found = bars[mid]!.time;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const out: ChartMarker[] = [];
  for (const t of trades.slice(-MAX_MARKED_TRADES)) {
    const long = t.side === 'LONG';
    const entry = snap(t.openedAt);
    const exit = snap(t.time);
    if (entry !== null) {
      out.push({
        time: entry,
        position: long ? 'belowBar' : 'aboveBar',
        shape: long ? 'arrowUp' : 'arrowDown',
        color: long ? '#26a69a' : '#ef5350',
        text: long ? 'L' : 'S',
      });
    }
    if (exit !== null) {
      out.push({
        time: exit,
        position: long ? 'aboveBar' : 'belowBar',
        shape: 'circle',
        color: t.netPnl > 0 ? '#26a69a' : '#f7b84f',
        text: t.exitReason,
      });
    }
  }
  return out.sort((a, b) => a.time - b.time);
}

/** Most points sent to a chart; longer curves are bucketed (last equity, deepest drawdown per bucket). */
export const MAX_CHART_POINTS = 4000;
/** Most trades listed; the rest are counted in a note (all are in the metrics). */
export const MAX_TRADE_ROWS = 2000;

export interface ChartPoint {
  time: number;
  value: number;
}

/** Equity and drawdown (in %, ≤ 0) series for the charts, in seconds, bucketed to at most `maxPoints`. */
export function equityAndDrawdown(
  equity: readonly { time: number; equity: number }[],
  maxPoints = MAX_CHART_POINTS,
): { equity: ChartPoint[]; drawdown: ChartPoint[] } {
  const eq: ChartPoint[] = [];
  const dd: ChartPoint[] = [];
  const stride = Math.max(1, Math.ceil(equity.length / maxPoints));
  let peak = -Infinity;
  let worst = 0;
  let lastSec = -Infinity;
  for (let i = 0; i < equity.length; i++) {
    const p = equity[i]!;
    if (p.equity > peak) peak = p.equity;
    const d = peak > 0 ? (p.equity / peak - 1) * 100 : 0;
    if (d < worst) worst = d;
    if ((i + 1) % stride === 0 || i === equity.length - 1) {
      const sec = Math.floor(p.time / 1000);
      if (sec > lastSec) {
        eq.push({ time: sec, value: p.equity });
        dd.push({ time: sec, value: worst });
        lastSec = sec;
      }
      worst = 0;
    }
  }
  return { equity: eq, drawdown: dd };
}

export interface MonthlyReturn {
  year: number;
  /** 0..11 */
  month: number;
  returnPct: number;
}

/** Month-by-month return of the equity curve (UTC months), chained from `initial`. */
export function monthlyReturns(equity: readonly { time: number; equity: number }[], initial: number): MonthlyReturn[] {
  const out: MonthlyReturn[] = [];
  let base = initial;
  let key = -1;
  let last = initial;
  for (const p of equity) {
    const d = new Date(p.time);
    const k = d.getUTCFullYear() * 12 + d.getUTCMonth();
    if (key !== -1 && k !== key) {
      out.push({ year: Math.floor(key / 12), month: key % 12, returnPct: (last / base - 1) * 100 });
      base = last;
    }
    key = k;
    last = p.equity;
  }
  if (key !== -1) out.push({ year: Math.floor(key / 12), month: key % 12, returnPct: (last / base - 1) * 100 });
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function heat(v: number): string {
  if (!Number.isFinite(v) || v === 0) return '';
  const a = Math.min(0.85, 0.15 + Math.abs(v) / 10);
  return v > 0 ? `background:rgba(38,166,154,${a.toFixed(2)})` : `background:rgba(239,83,80,${a.toFixed(2)})`;
}

function monthlyTable(rows: readonly MonthlyReturn[]): string {
  if (rows.length === 0) return '<p class="empty">No equity data.</p>';
  const years = [...new Set(rows.map((r) => r.year))];
  const head = `<tr><th>Year</th>${MONTHS.map((m) => `<th>${m}</th>`).join('')}<th>Year</th></tr>`;
  const body = years
    .map((y) => {
      const cells = MONTHS.map((_m, i) => {
        const r = rows.find((x) => x.year === y && x.month === i);
        if (!r) return '<td></td>';
        return `<td class="num" style="${heat(r.returnPct)}">${formatNumber(r.returnPct, 2)}</td>`;
      }).join('');
      const yearly = rows.filter((x) => x.year === y).reduce((acc, x) => acc * (1 + x.returnPct / 100), 1);
      const yp = (yearly - 1) * 100;
      return `<tr><th>${y}</th>${cells}<td class="num ${signClass(yp)}"><b>${formatNumber(yp, 2)}</b></td></tr>`;
    })
    .join('\n');
  return `<div class="scroll"><table class="data monthly"><thead>${head}</thead><tbody>${body}</tbody></table></div><p class="note">Returns in % of equity at the previous month's close (UTC).</p>`;
}

function kpis(result: BacktestResult): string {
  const m = result.metrics as unknown as Record<string, unknown>;
  const pick: [string, string][] = [
    ['initialCapital', 'Initial capital'],
    ['totalReturnPct', 'Total return'],
    ['cagrPct', 'CAGR'],
    ['maxDrawdownPct', 'Max drawdown'],
    ['sharpe', 'Sharpe'],
    ['trades', 'Trades'],
    ['winRate', 'Win rate'],
    ['profitFactor', 'Profit factor'],
    ['finalEquity', 'Final equity'],
    ['buyAndHoldPct', 'Buy & hold'],
  ];
  return pick
    .filter(([k]) => k in m)
    .map(([k, label]) => {
      const v = m[k];
      const cls = typeof v === 'number' && /Return|buyAndHold|cagr/i.test(k) ? signClass(v) : '';
      return `<div class="kpi" data-metric="${k}"><div class="k">${escapeHtml(label)}</div><div class="v ${cls}">${formatMetric(k, v)}</div></div>`;
    })
    .join('');
}

function metricsTable(metrics: object): string {
  const rows = Object.entries(metrics)
    .filter(([, v]) => v === null || typeof v !== 'object')
    .map(
      ([k, v]) =>
        `<tr><th>${escapeHtml(humanizeKey(k))}</th><td class="num ${typeof v === 'number' && /Return|Pct$|Profit|Pnl/.test(k) && !/Drawdown/.test(k) ? signClass(v) : ''}">${formatMetric(k, v)}</td></tr>`,
    )
    .join('\n');
  return `<table class="data metrics"><tbody>${rows}</tbody></table>`;
}

/** Positions still open at the end, data gaps and warnings: what the headline numbers leave out. */
function endSection(result: BacktestResult): string {
  const open = result.openTrades ?? [];
  const gaps = result.gaps ?? [];
  const warnings = result.warnings ?? [];
  if (open.length === 0 && gaps.length === 0 && warnings.length === 0) return '';
  const parts: string[] = [];
  if (warnings.length > 0) {
    parts.push(`<h3>Warnings</h3><ul class="warnings">${warnings.map((w) => `<li>${escapeHtml(w)}</li>`).join('')}</ul>`);
  }
  if (open.length > 0) {
    const rows = open
      .map(
        (t) =>
          `<tr><td>${escapeHtml(t.symbol)}</td><td class="${t.side === 'LONG' ? 'pos' : 'neg'}">${t.side}</td><td>${formatTime(t.openedAt)}</td>` +
          `<td class="num">${formatNumber(t.quantity, 4)}</td><td class="num">${formatNumber(t.entryPrice, 4)}</td><td class="num">${formatNumber(t.markPrice, 4)}</td>` +
          `<td class="num ${signClass(t.unrealizedPnl)}">${formatNumber(t.unrealizedPnl, 2)}</td><td class="num ${signClass(t.netPnl)}">${formatNumber(t.netPnl, 2)}</td></tr>`,
      )
      .join('\n');
    parts.push(
      `<h3>Open at the end (${open.length})</h3><p class="note">Marked at the last close, not closed: no exit fee or slippage; not in the trade statistics (run with --close-at-end to close them).</p>` +
        `<div class="scroll"><table class="data open-trades"><thead><tr><th>Symbol</th><th>Side</th><th>Opened</th><th>Qty</th><th>Entry</th><th>Mark</th><th>Unrealised PnL</th><th>Net PnL</th></tr></thead><tbody>${rows}</tbody></table></div>`,
    );
  }
  if (gaps.length > 0) {
    const rows = gaps
      .map(
        (g) =>
          `<tr><td>${escapeHtml(g.symbol)}</td><td>${formatTime(g.lastBefore)}</td><td>${formatTime(g.firstAfter)}</td><td class="num">${formatNumber(g.missingBars, 0)}</td></tr>`,
      )
      .join('\n');
    parts.push(
      `<h3>Data gaps (${gaps.length})</h3><div class="scroll"><table class="data gaps"><thead><tr><th>Symbol</th><th>Last bar before</th><th>First bar after</th><th>Bars missing</th></tr></thead><tbody>${rows}</tbody></table></div>`,
    );
  }
  return `<section id="data-notes"><h2>Open positions, gaps and warnings</h2>${parts.join('\n')}</section>`;
}

function riskSection(result: BacktestResult): string {
  const denials = Object.entries(result.denials)
    .sort((a, b) => b[1] - a[1])
    .map(([rule, count]) => ({ rule, count }));
  const states = result.riskStates.map((s) => ({ time: formatTime(s.time), from: s.from, to: s.to, reason: s.reason }));
  const counts = Object.entries(result.counts).map(([k, v]) => ({ counter: humanizeKey(k), count: v }));
  return (
    `<h3>Denials by rule</h3>${genericTable(denials)}` +
    `<h3>Risk state changes</h3>${genericTable(states)}` +
    `<h3>Orders and fills</h3>${genericTable(counts)}`
  );
}

/** Per strategy: trades, net PnL, win rate, entries and their mean capital share. */
function strategySection(result: BacktestResult): string {
  const rows = (result.strategies ?? []).map(
    (s) =>
      `<tr><td>${escapeHtml(s.strategy)}</td><td>${s.trades}</td><td>${escapeHtml(formatNumber(s.netPnl, 2))}</td>` +
      `<td>${escapeHtml(formatNumber(s.winRate * 100, 1))} %</td><td>${s.entries}</td><td>${escapeHtml(formatNumber(s.meanShare, 2))}</td></tr>`,
  );
  if (rows.length === 0) return '<p class="note">No entries.</p>';
  return `<table><thead><tr><th>Strategy</th><th>Trades</th><th>Net PnL (USDT)</th><th>Win rate</th><th>Entries</th><th>Mean share</th></tr></thead><tbody>${rows.join('')}</tbody></table><p class="note">A trade belongs to the strategy whose entry opened it; the share is the part of the normal size the bandit gave that entry (result.json strategies[].allocation has each one over time).</p>`;
}

function settingsTable(settings: Settings): string {
  const rows = redactedSettings(settings as unknown as Record<string, unknown>)
    .map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`)
    .join('\n');
  return `<details><summary>Settings used (${escapeHtml(String(Object.keys(settings).length))}; secrets redacted)</summary><table class="data settings"><tbody>${rows}</tbody></table></details>`;
}

/**
 * The client script: draws every chart from the embedded JSON with the inlined library and keeps
 * them on one time axis (zoom or scroll one, the others follow).
 */
const CHART_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById('report-data').textContent);
  var LC = window.LightweightCharts;
  var charts = [];
  function chart(el, height, leftScale) {
    var c = LC.createChart(el, {
      autoSize: true,
      height: height,
      layout: { background: { color: 'transparent' }, textColor: '#8899aa' },
      grid: { vertLines: { color: '#1f2a36' }, horzLines: { color: '#1f2a36' } },
      timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#263241', minBarSpacing: 0.01 },
      rightPriceScale: { borderColor: '#263241', minimumWidth: 80 },
      leftPriceScale: { visible: !!leftScale, borderColor: '#263241', minimumWidth: 60 },
    });
    charts.push({ chart: c, el: el });
    return c;
  }
  var syncing = false;
  function syncAll() {
    charts.forEach(function (source) {
      source.chart.timeScale().subscribeVisibleTimeRangeChange(function (range) {
        if (syncing || !range) return;
        syncing = true;
        charts.forEach(function (other) {
          other.el.setAttribute('data-range', range.from + '-' + range.to);
          if (other === source) return;
          try { other.chart.timeScale().setVisibleRange(range); } catch (e) { /* a chart with no data in range */ }
        });
        syncing = false;
      });
    });
  }
  var money = { type: 'price', precision: 2, minMove: 0.01 };
  var percent = { type: 'custom', formatter: function (v) { return v.toFixed(2) + ' %'; } };
  var eqEl = document.getElementById('equity-chart');
  var ddEl = document.getElementById('drawdown-chart');
  if (!eqEl || !ddEl || data.equity.length === 0) return;
  var eqChart = chart(eqEl, 320);
  var eq = eqChart.addSeries(LC.AreaSeries, { lineColor: '#4f8ff7', topColor: 'rgba(79,143,247,0.35)', bottomColor: 'rgba(79,143,247,0.02)', lineWidth: 2, priceFormat: money, title: 'strategy' });
  eq.setData(data.equity);
  if (data.hold.length > 0) {
    var hold = eqChart.addSeries(LC.LineSeries, { color: '#c9a227', lineWidth: 1, lineStyle: 2, priceFormat: money, title: 'buy & hold' });
    hold.setData(data.hold);
  }
  var ddChart = chart(ddEl, 170);
  var dd = ddChart.addSeries(LC.AreaSeries, { lineColor: '#ef5350', topColor: 'rgba(239,83,80,0.05)', bottomColor: 'rgba(239,83,80,0.4)', invertFilledArea: true, lineWidth: 1, priceFormat: percent });
  dd.setData(data.drawdown);
  var rollEl = document.getElementById('rolling-chart');
  if (rollEl && data.rolling.volatility.length > 0) {
    var rc = chart(rollEl, 170, true);
    var sh = rc.addSeries(LC.LineSeries, { color: '#4f8ff7', lineWidth: 2, priceScaleId: 'right', title: 'Sharpe', priceFormat: { type: 'price', precision: 2, minMove: 0.01 } });
    sh.setData(data.rolling.sharpe);
    var vol = rc.addSeries(LC.LineSeries, { color: '#c9a227', lineWidth: 1, priceScaleId: 'left', title: 'volatility', priceFormat: percent });
    vol.setData(data.rolling.volatility);
    rollEl.setAttribute('data-points', String(data.rolling.volatility.length));
  }
  (data.prices || []).forEach(function (p, i) {
    var el = document.getElementById('price-chart-' + i);
    if (!el || p.candles.length === 0) return;
    var c = chart(el, 300);
    var s = c.addSeries(LC.CandlestickSeries, { upColor: 'rgba(38,166,154,0.55)', downColor: 'rgba(239,83,80,0.55)', wickUpColor: 'rgba(38,166,154,0.55)', wickDownColor: 'rgba(239,83,80,0.55)', borderVisible: false });
    s.setData(p.candles);
    p.lanes.forEach(function (lane) {
      var line = c.addSeries(LC.LineSeries, { lineWidth: 2, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false });
      line.setData(lane);
    });
    var bare = p.markers.map(function (m) { return Object.assign({}, m, { text: '' }); });
    var markers = LC.createSeriesMarkers(s, bare);
    var labelled = false;
    c.timeScale().subscribeVisibleLogicalRangeChange(function (r) {
      var close = !!r && r.to - r.from < data.labelZoomBars;
      if (close === labelled) return;
      labelled = close;
      markers.setMarkers(close ? p.markers : bare);
      el.setAttribute('data-labels', close ? 'on' : 'off');
    });
    var tip = document.createElement('div');
    tip.className = 'tip';
    el.style.position = 'relative';
    el.appendChild(tip);
    c.subscribeCrosshairMove(function (param) {
      var t = param && param.time;
      var hits = t === undefined ? [] : p.segments.filter(function (g) { return g.entry <= t && t <= g.exit; });
      if (hits.length === 0 || !param.point) { tip.style.display = 'none'; return; }
      tip.textContent = hits.map(function (g) { return g.label; }).join('\\n');
      tip.style.display = 'block';
      tip.style.left = Math.min(param.point.x + 12, el.clientWidth - 260) + 'px';
      tip.style.top = '8px';
    });
    c.timeScale().fitContent();
    el.setAttribute('data-markers', String(p.markers.length));
    el.setAttribute('data-segments', String(p.segments.length));
    el.setAttribute('data-labels', 'off');
  });
  charts.forEach(function (c) { c.chart.timeScale().fitContent(); });
  syncAll();
  document.body.setAttribute('data-charts-ready', '1');
})();
`;

/** Renders the whole report. Pure: same inputs, same string. */
export function renderBacktestHtml(result: BacktestResult, meta: BacktestHtmlMeta): string {
  const initial =
    typeof (meta.settings as { INITIAL_BALANCE?: unknown }).INITIAL_BALANCE === 'number'
      ? (meta.settings as { INITIAL_BALANCE: number }).INITIAL_BALANCE
      : (result.equity[0]?.equity ?? 0);
  const series = equityAndDrawdown(result.equity);
  const from0 = meta.from ?? -Infinity;
  const to0 = meta.to ?? Infinity;
  const used = (meta.series ?? []).filter((c) => result.symbols.includes(c.symbol));
  const hold = used.length > 0 ? buyAndHoldPoints(series.equity, used, from0, to0, initial) : [];
  const rolling = rollingData(result);
  const prices = (meta.series ?? [])
    .filter((c) => result.symbols.includes(c.symbol))
    .map((c) => {
      const bars = candles(c, from0, to0);
      const own = result.trades.filter((t) => t.symbol === c.symbol);
      const marks = tradeMarkers(own, bars);
      const { lanes, segments } = tradeSegments(
        own.slice(-MAX_MARKED_TRADES),
        bars.map((k) => k.time),
      );
      return { symbol: c.symbol, candles: bars, markers: marks, lanes, segments };
    });
  const priceSection = prices.length
    ? `<section id="prices"><h2>Prices and trades</h2><p class="note">Each trade is a line from entry to exit, green when it made money, red when it lost; ▲/▼ mark entries (long/short) and ● exits. Hover a trade for its result; zoom in (under ${LABEL_ZOOM_BARS} candles) to label exits with their reason. All charts share one time axis: zoom or scroll one and the others follow.</p>${prices
        .map(
          (p, i) =>
            `<h3>${escapeHtml(p.symbol)}</h3><div id="price-chart-${i}" class="chart price-chart"></div>`,
        )
        .join('\n')}</section>`
    : '';
  const monthly = monthlyReturns(result.equity, initial);
  const metrics = result.metrics as unknown as Record<string, unknown>;
  const title = meta.title ?? `Backtest ${result.symbols.join(', ')}`;
  const from = meta.from ?? result.start;
  const to = meta.to ?? result.end;
  const arraySections = Object.entries(metrics)
    .filter(([, v]) => Array.isArray(v))
    .map(([k, v]) => {
      const label =
        k === 'perSymbol'
          ? 'Per symbol'
          : k === 'exitReasons'
            ? 'Exit reasons'
            : k === 'byFunding'
              ? 'Funded trades and bandit explorations'
              : k === 'bySide'
                ? 'Long and short'
                : humanizeKey(k);
      return `<section id="${escapeHtml(k)}"><h2>${escapeHtml(label)}</h2><div class="scroll">${genericTable(v as Record<string, unknown>[], { key: k === 'perSymbol' ? 'Symbol' : k === 'exitReasons' ? 'Exit reason' : 'Key', side: 'Side' })}</div></section>`;
    })
    .join('\n');

  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">
<title>${escapeHtml(title)}</title>
<style>${REPORT_CSS}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p>${escapeHtml(formatTime(from))} → ${escapeHtml(formatTime(to))} · ${escapeHtml(formatDuration(result.intervalMs))} bars · ${escapeHtml(formatNumber(result.bars, 0))} bars read · data: <code>${escapeHtml(meta.dataDir)}</code></p>
</header>
<main>
<section id="summary"><h2>Summary</h2><div class="grid">${kpis(result)}</div></section>
<section id="equity"><h2>Equity (USDT)</h2><div class="legend"><span><i style="background:#4f8ff7"></i>strategy</span>${hold.length ? '<span><i style="background:#c9a227"></i>buy &amp; hold (equal weight, same capital)</span>' : ''}</div><div id="equity-chart" class="chart"></div>
<h2>Drawdown (%)</h2><div id="drawdown-chart" class="chart small"></div>
${series.equity.length < result.equity.length ? `<p class="note">${formatNumber(result.equity.length, 0)} equity points drawn as ${formatNumber(series.equity.length, 0)} buckets (last equity, deepest drawdown of each).</p>` : ''}
<h3>Worst drawdown periods</h3>${drawdownTable(result.equity)}</section>
<section id="rolling"><h2>Rolling Sharpe and volatility</h2><div id="rolling-chart" class="chart small"></div><p class="note">${escapeHtml(rolling.caption)}</p></section>
<section id="distribution"><h2>Return distribution</h2>${distributionSection(result)}</section>
${priceSection}
<section id="metrics"><h2>Metrics</h2>${metricsTable(metrics)}</section>
<section id="monthly"><h2>Monthly returns</h2>${monthlyTable(monthly)}</section>
${arraySections}
<section id="risk"><h2>Risk</h2>${riskSection(result)}</section>
<section id="strategies"><h2>Strategies</h2>${strategySection(result)}</section>
<section id="trades"><h2>Trades (${escapeHtml(formatNumber(result.trades.length, 0))})</h2>${tradeTable(result.trades, MAX_TRADE_ROWS)}</section>
${endSection(result)}
<section id="settings"><h2>Settings</h2>${settingsTable(meta.settings)}</section>
<p class="note">Charts: TradingView Lightweight Charts™ (Apache-2.0), inlined. Generated by Sapphire.</p>
</main>
<script type="application/json" id="report-data">${jsonForScript({ equity: series.equity, drawdown: series.drawdown, hold, rolling: { sharpe: rolling.sharpe, volatility: rolling.volatility }, labelZoomBars: LABEL_ZOOM_BARS, prices })}</script>
<script>${inlineScript(chartBundle())}</script>
<script>${CHART_SCRIPT}</script>
<script>${TRADE_TABLE_SCRIPT}</script>
</body>
</html>
`;
}
