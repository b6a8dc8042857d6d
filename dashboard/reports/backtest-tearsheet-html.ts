import type { BacktestResult } from '../../backtests/run-backtest.ts';
import type { BarColumns } from '../../pipelines/model/index.ts';
import { periodReturns } from '../../backtests/report/metrics.ts';
import {
  buyAndHoldCurve,
  drawdownPeriods,
  returnHistogram,
  rollingRatios,
  type HeldSymbol,
} from '../../backtests/report/tearsheet.ts';
import { escapeHtml, formatDuration, formatNumber, formatTime, signClass } from './html-kit.ts';
import { groupedBarsSvg } from './svg-chart.ts';

/**
 * The tearsheet parts of `report.html`: buy-and-hold line, drawdown periods, return distribution,
 * rolling Sharpe and volatility, trades drawn as entry→exit segments, and the sortable,
 * filterable trade list. Pure string builders; the drawing happens in the page script.
 */

export interface ChartPoint {
  time: number;
  value: number;
}

/** Equal-weight buy and hold of the run's symbols, at the equity chart's points (seconds). */
export function buyAndHoldPoints(
  points: readonly ChartPoint[],
  series: readonly BarColumns[],
  from: number,
  to: number,
  initial: number,
): ChartPoint[] {
  const held: HeldSymbol[] = [];
  for (const c of series) {
    let lo = 0;
    while (lo < c.length && c.openTime[lo]! < from) lo++;
    let hi = lo;
    while (hi < c.length && c.openTime[hi]! < to) hi++;
    if (hi === lo) continue;
    const closeTime = Array.from(c.openTime.subarray(lo, hi), (t) => t + c.intervalMs);
    held.push({ first: c.open[lo]!, closeTime, close: c.close.subarray(lo, hi) });
  }
  const rows = points.map((p) => ({ time: p.time * 1000, equity: 0 }));
  return buyAndHoldCurve(rows, held, initial).map((r) => ({ time: r.time / 1000, value: r.equity }));
}

/** The five deepest drawdowns: peak, valley, recovery, depth, length. */
export function drawdownTable(equity: BacktestResult['equity']): string {
  const periods = drawdownPeriods(equity, 5);
  if (periods.length === 0) return '<p class="empty">No drawdown.</p>';
  const rows = periods
    .map(
      (p, i) =>
        `<tr><td class="num">${i + 1}</td><td>${formatTime(p.start)}</td><td>${formatTime(p.valley)}</td>` +
        `<td>${p.recovery === null ? '<i>not recovered</i>' : formatTime(p.recovery)}</td>` +
        `<td class="num neg">${formatNumber(-p.depthPct, 2)} %</td><td class="num">${formatDuration(p.lengthMs)}</td></tr>`,
    )
    .join('\n');
  return (
    `<div class="scroll"><table class="data drawdowns"><thead><tr><th>#</th><th>Start (peak)</th><th>Valley</th><th>Recovery</th><th>Depth</th><th>Length</th></tr></thead><tbody>${rows}</tbody></table></div>` +
    '<p class="note">Length runs from the peak to the recovery (to the end of the data when not recovered).</p>'
  );
}

/** Histogram of the returns Sharpe is computed from (daily, or per bar on short runs). */
export function distributionSection(result: BacktestResult): string {
  const { returns, basis } = periodReturns(result.equity, result.intervalMs, result.metrics.returnsBasis);
  const bins = returnHistogram(returns, 20);
  if (bins.length === 0) return '<p class="empty">Too few returns.</p>';
  const svg = groupedBarsSvg(
    bins.map((b) => ({ label: formatNumber((b.fromPct + b.toPct) / 2, 2), values: [b.count] })),
    [{ name: basis === 'daily' ? 'days' : 'bars', color: '#4f8ff7' }],
    { width: 1100, height: 260, xLabel: `${basis === 'daily' ? 'daily' : 'per-bar'} return, % (bin centre)`, yLabel: 'count' },
  );
  const positive = returns.filter((r) => r > 0).length;
  return `${svg}<p class="note">${formatNumber(returns.length, 0)} ${basis === 'daily' ? 'daily (00:00 UTC)' : 'per-bar'} returns, ${formatNumber((positive / returns.length) * 100, 2)} % positive.</p>`;
}

/** Rolling Sharpe and volatility series for the page script, with a caption. */
export function rollingData(result: BacktestResult): { sharpe: ChartPoint[]; volatility: ChartPoint[]; caption: string } {
  const r = rollingRatios(result.equity, result.intervalMs, result.metrics.returnsBasis);
  const sec = (ms: number) => Math.floor(ms / 1000);
  const sharpe = r.points.filter((p) => p.sharpe !== null).map((p) => ({ time: sec(p.time), value: p.sharpe! }));
  const volatility = r.points.map((p) => ({ time: sec(p.time), value: p.volatilityPct }));
  const unit = r.basis === 'daily' ? 'days' : 'bars';
  return {
    sharpe,
    volatility,
    caption: `Window of ${r.window} ${unit}, annualised like the headline Sharpe; Sharpe on the right axis, volatility (%) on the left.`,
  };
}

/** One trade for the price chart: its segment and its hover label. */
export interface TradeSegment {
  entry: number;
  exit: number;
  entryPrice: number;
  exitPrice: number;
  color: string;
  label: string;
}

type LanePoint = { time: number; value: number; color: string };

/** The colour of the stretch from one trade's exit to the next trade's entry on the same lane. */
const HIDDEN = 'rgba(0,0,0,0)';

/**
 * Trades as entry→exit segments on the candles (seconds), coloured by result, spread over as few
 * line series ("lanes") as keep their times strictly increasing: a lane takes a trade whose entry
 * candle comes after its last exit candle. A line is drawn in its starting point's colour, so an
 * exit point is transparent and hides the stretch to the next entry.
 */
export function tradeSegments(
  trades: BacktestResult['trades'],
  candleTimes: readonly number[],
): { lanes: LanePoint[][]; segments: TradeSegment[] } {
  const index = (ms: number): number => {
    const t = Math.floor(ms / 1000);
    let lo = 0;
    let hi = candleTimes.length - 1;
    let found = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (candleTimes[mid]! <= t) {
        found = mid;
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const lanes: LanePoint[][] = [];
  const lastExit: number[] = [];
  const segments: TradeSegment[] = [];
  for (const t of [...trades].sort((a, b) => a.openedAt - b.openedAt)) {
    const i = index(t.openedAt);
    const j = index(t.time);
    if (i < 0 || j < 0) continue;
    const color = t.netPnl > 0 ? '#26a69a' : '#ef5350';
    let lane = lastExit.findIndex((e) => e < i);
    if (lane < 0) {
      lane = lanes.length;
      lanes.push([]);
      lastExit.push(-Infinity);
    }
    // the library colours a line from each point to the next with the first point's colour
    lanes[lane]!.push({ time: candleTimes[i]!, value: t.entryPrice, color: j > i ? color : HIDDEN });
    if (j > i) lanes[lane]!.push({ time: candleTimes[j]!, value: t.exitPrice, color: HIDDEN });
    lastExit[lane] = j;
    segments.push({
      entry: candleTimes[i]!,
      exit: candleTimes[j]!,
      entryPrice: t.entryPrice,
      exitPrice: t.exitPrice,
      color,
      label: `${t.side} ${t.symbol} ${formatNumber(t.returnPct * 100, 2)} % (${formatNumber(t.netPnl, 2)} USDT), ${t.exitReason}, held ${formatDuration(t.time - t.openedAt)}`,
    });
  }
  return { lanes, segments };
}

/** The trade list: every column sortable (click its header), rows filtered by the text box. */
export function tradeTable(trades: BacktestResult['trades'], maxRows: number): string {
  if (trades.length === 0) return '<p class="empty">No closed trades.</p>';
  const shown = trades.slice(0, maxRows);
  const num = (v: number, digits: number, cls = '') =>
    `<td class="num ${cls}" data-v="${Number.isFinite(v) ? v : ''}">${formatNumber(v, digits)}</td>`;
  const rows = shown
    .map(
      (t, i) =>
        `<tr>${num(i + 1, 0)}<td>${escapeHtml(t.symbol)}</td><td class="${t.side === 'LONG' ? 'pos' : 'neg'}">${t.side}</td>` +
        `<td data-v="${t.openedAt}">${formatTime(t.openedAt)}</td><td data-v="${t.time}">${formatTime(t.time)}</td>` +
        `<td data-v="${t.time - t.openedAt}">${formatDuration(t.time - t.openedAt)}</td>` +
        `${num(t.quantity, 4)}${num(t.entryPrice, 4)}${num(t.exitPrice, 4)}` +
        `${num(t.netPnl, 2, signClass(t.netPnl))}${num(t.returnPct * 100, 2, signClass(t.returnPct))}` +
        `${num(t.fees, 2)}${num(t.funding, 2)}<td>${escapeHtml(t.exitReason)}</td></tr>`,
    )
    .join('\n');
  const note =
    trades.length > shown.length
      ? `<p class="note">First ${shown.length} of ${trades.length} trades listed; the metrics use all of them.</p>`
      : '';
  const heads = ['#', 'Symbol', 'Side', 'Opened', 'Closed', 'Held', 'Qty', 'Entry', 'Exit', 'Net PnL (USDT)', 'Return %', 'Fees (USDT)', 'Funding (USDT)', 'Exit reason'];
  return (
    `${note}<p class="filter"><input id="trade-filter" type="search" placeholder="Filter: symbol, side, exit reason…" aria-label="Filter trades"> <span id="trade-count" class="note">${shown.length} of ${shown.length} shown</span></p>` +
    `<div class="scroll"><table class="data trades sortable"><thead><tr>${heads.map((h) => `<th role="button" title="Sort">${escapeHtml(h)}</th>`).join('')}</tr></thead><tbody>${rows}</tbody></table></div>`
  );
}

/** Sorting and filtering of the trade list (no library). */
export const TRADE_TABLE_SCRIPT = `
(function () {
  var table = document.querySelector('table.trades.sortable');
  if (!table) return;
  var body = table.tBodies[0];
  var rows = Array.prototype.slice.call(body.rows);
  var state = { col: -1, dir: 1 };
  function key(row, col) {
    var cell = row.cells[col];
    var v = cell.getAttribute('data-v');
    return v !== null && v !== '' ? Number(v) : cell.textContent.toLowerCase();
  }
  Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
    th.addEventListener('click', function () {
      state.dir = state.col === col ? -state.dir : 1;
      state.col = col;
      rows.sort(function (a, b) {
        var x = key(a, col), y = key(b, col);
        return (x < y ? -1 : x > y ? 1 : 0) * state.dir;
      });
      rows.forEach(function (r) { body.appendChild(r); });
      Array.prototype.forEach.call(table.tHead.rows[0].cells, function (h) { h.removeAttribute('aria-sort'); });
      th.setAttribute('aria-sort', state.dir > 0 ? 'ascending' : 'descending');
    });
  });
  var input = document.getElementById('trade-filter');
  var count = document.getElementById('trade-count');
  input.addEventListener('input', function () {
    var words = input.value.toLowerCase().split(/\\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (r) {
      var text = r.textContent.toLowerCase();
      var ok = words.every(function (w) { return text.indexOf(w) >= 0; });
      r.style.display = ok ? '' : 'none';
      if (ok) shown++;
    });
    count.textContent = shown + ' of ' + rows.length + ' shown';
  });
})();
`;
