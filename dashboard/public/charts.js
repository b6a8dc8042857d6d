/* global window, LightweightCharts */
/** The charts (lightweight-charts): equity and drawdown, prices with timeframes and position lines, profit bars. */
import { $, COLORS, el, isNum, sec, state } from './state.js';

export function makeChart(container) {
  return LightweightCharts.createChart(container, {
    autoSize: true,
    layout: { background: { color: 'transparent' }, textColor: COLORS.muted },
    grid: { vertLines: { color: '#1f2a36' }, horzLines: { color: '#1f2a36' } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#263241', minBarSpacing: 0.01 },
    rightPriceScale: { borderColor: '#263241', minimumWidth: 80 },
  });
}

export function initCharts() {
  if (state.charts || !window.LightweightCharts) return;
  const LC = LightweightCharts;
  const eqChart = makeChart($('equity-chart'));
  const equity = eqChart.addSeries(LC.AreaSeries, {
    lineColor: COLORS.accent,
    topColor: 'rgba(79,143,247,0.35)',
    bottomColor: 'rgba(79,143,247,0.02)',
    lineWidth: 2,
  });
  const ddChart = makeChart($('drawdown-chart'));
  const drawdown = ddChart.addSeries(LC.AreaSeries, {
    lineColor: COLORS.neg,
    topColor: 'rgba(239,83,80,0.05)',
    bottomColor: 'rgba(239,83,80,0.4)',
    invertFilledArea: true,
    lineWidth: 1,
    priceFormat: { type: 'custom', formatter: (v) => `${v.toFixed(2)} %` },
  });
  let syncing = false;
  const sync = (a, b) =>
    a.timeScale().subscribeVisibleLogicalRangeChange((r) => {
      if (syncing || !r) return;
      syncing = true;
      b.timeScale().setVisibleLogicalRange(r);
      syncing = false;
    });
  sync(eqChart, ddChart);
  sync(ddChart, eqChart);
  const priceChart = makeChart($('price-chart'));
  const candles = priceChart.addSeries(LC.CandlestickSeries, {
    upColor: COLORS.pos,
    downColor: COLORS.neg,
    wickUpColor: COLORS.pos,
    wickDownColor: COLORS.neg,
    borderVisible: false,
  });
  const markers = LC.createSeriesMarkers(candles, []);
  const profitChart = makeChart($('profit-chart'));
  const profit = profitChart.addSeries(LC.HistogramSeries, {
    priceFormat: { type: 'price', precision: 2, minMove: 0.01 },
  });
  const allocChart = makeChart($('allocation-chart'));
  state.charts = {
    eqChart,
    equity,
    ddChart,
    drawdown,
    priceChart,
    candles,
    markers,
    profitChart,
    profit,
    allocChart,
    alloc: new Map(),
  };
}

/** Unique ascending seconds (the last value of a second wins). */
export function toSeries(points, value) {
  const out = [];
  for (const p of points) {
    const t = sec(p.time);
    const v = value(p);
    if (!isNum(t) || !isNum(v)) continue;
    const last = out[out.length - 1];
    if (last && t < last.time) continue;
    if (last && t === last.time) last.value = v;
    else out.push({ time: t, value: v });
  }
  return out;
}

export function renderEquity(curve) {
  const c = state.charts;
  if (!c) return;
  const eq = toSeries(curve, (p) => p.equity);
  let peak = -Infinity;
  const dd = eq.map((p) => {
    peak = Math.max(peak, p.value);
    return { time: p.time, value: peak > 0 ? (p.value / peak - 1) * 100 : 0 };
  });
  c.equity.setData(eq);
  c.drawdown.setData(dd);
  state.equity = { lastSec: eq.length ? eq[eq.length - 1].time : -Infinity, peak };
  c.eqChart.timeScale().fitContent();
  c.ddChart.timeScale().fitContent();
}

export function appendEquity(time, equity) {
  const c = state.charts;
  if (!c || !isNum(time) || !isNum(equity)) return;
  const t = sec(time);
  if (t < state.equity.lastSec) return;
  state.equity.lastSec = t;
  state.equity.peak = Math.max(state.equity.peak, equity);
  c.equity.update({ time: t, value: equity });
  c.drawdown.update({ time: t, value: state.equity.peak > 0 ? (equity / state.equity.peak - 1) * 100 : 0 });
}

export function renderPrices(prices) {
  const tabs = $('symbol-tabs');
  if (!prices.length) {
    tabs.replaceChildren(el('span', { class: 'empty', text: 'No price data yet.' }));
    return;
  }
  if (!prices.some((p) => p.symbol === state.symbol)) state.symbol = prices[0].symbol;
  tabs.replaceChildren(
    ...prices.map((p) =>
      el('button', {
        type: 'button',
        role: 'tab',
        'aria-selected': String(p.symbol === state.symbol),
        text: p.symbol,
        onclick: () => {
          state.symbol = p.symbol;
          renderPrices(state.view.prices);
        },
      }),
    ),
  );
  const c = state.charts;
  if (!c) return;
  const sel = prices.find((p) => p.symbol === state.symbol);
  const intervalS = barSeconds(sel.candles);
  renderTimeframes(intervalS);
  const bars = aggregate(sel.candles, intervalS * state.timeframe);
  c.candles.setData(bars);
  drawPositionLines(sel.symbol);
  // markers sit on the bar that contains their time
  const times = bars.map((b) => b.time);
  const snap = (t) => {
    let lo = 0;
    let hi = times.length - 1;
    let found = null;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (times[mid] <= t) {
        found = times[mid];
        lo = mid + 1;
      } else hi = mid - 1;
    }
    return found;
  };
  const marks = [];
  for (const m of sel.markers) {
    const t = snap(sec(m.time));
    if (t === null) continue;
    const long = m.side === 'LONG';
    marks.push(
      m.kind === 'entry'
        ? {
            time: t,
            position: long ? 'belowBar' : 'aboveBar',
            shape: long ? 'arrowUp' : 'arrowDown',
            color: long ? COLORS.pos : COLORS.neg,
            text: m.text || (long ? 'Long' : 'Short'),
          }
        : {
            time: t,
            position: long ? 'aboveBar' : 'belowBar',
            shape: 'circle',
            color: COLORS.warn,
            text: m.text || 'exit',
          },
    );
  }
  marks.sort((a, b) => a.time - b.time);
  c.markers.setMarkers(marks);
  c.priceChart.timeScale().fitContent();
}

/** The bars' own interval in seconds (the smallest step between two candles). */
export function barSeconds(candles) {
  let step = Infinity;
  for (let i = 1; i < candles.length; i++) step = Math.min(step, sec(candles[i].time) - sec(candles[i - 1].time));
  return isNum(step) && step > 0 ? step : 300;
}

/** Candles merged into `spanS`-second buckets (open of the first, close of the last). */
export function aggregate(candles, spanS) {
  const bars = [];
  for (const k of candles) {
    const t = Math.floor(sec(k.time) / spanS) * spanS;
    const last = bars[bars.length - 1];
    if (last && t < last.time) continue;
    if (last && t === last.time) {
      last.high = Math.max(last.high, k.high);
      last.low = Math.min(last.low, k.low);
      last.close = k.close;
    } else bars.push({ time: t, open: k.open, high: k.high, low: k.low, close: k.close });
  }
  return bars;
}

export const spanText = (s) => (s % 3600 === 0 ? `${s / 3600}h` : `${s / 60}m`);

export function renderTimeframes(intervalS) {
  $('timeframes').replaceChildren(
    ...[1, 3, 12].map((n) =>
      el('button', {
        type: 'button',
        role: 'tab',
        'data-tf': String(n),
        'aria-selected': String(n === state.timeframe),
        text: spanText(intervalS * n),
        onclick: () => {
          state.timeframe = n;
          renderPrices(state.view.prices);
        },
      }),
    ),
  );
}

/** Horizontal lines for the open position on the chart's symbol: entry, stop, take profit. */
export function drawPositionLines(symbol) {
  const c = state.charts;
  for (const l of state.priceLines) c.candles.removePriceLine(l);
  state.priceLines = [];
  const p = (state.view.positions || []).find((x) => x.symbol === symbol);
  if (!p) return;
  const line = (price, color, title, style) =>
    isNum(price) &&
    state.priceLines.push(c.candles.createPriceLine({ price, color, title, lineWidth: 1, lineStyle: style }));
  line(p.entryPrice, COLORS.accent, `entry ${p.side}`, 0);
  line(p.stopPrice, COLORS.neg, 'stop', 2);
  line(p.takeProfitPrice, COLORS.pos, 'take profit', 2);
}

export function renderProfitBars(perf) {
  const c = state.charts;
  if (!c) return;
  const rows = perf[state.profitPeriod] || [];
  c.profit.setData(
    rows.map((r) => ({ time: sec(r.time), value: r.netPnl, color: r.netPnl >= 0 ? COLORS.pos : COLORS.neg })),
  );
  c.profitChart.timeScale().fitContent();
}

/** one colour per strategy, in the order they are listed (names sorted by the service) */
const STRATEGY_COLORS = ['#4f8ff7', '#f7b84f', '#26a69a', '#ab47bc', '#ef5350', '#8d6e63', '#26c6da', '#d4e157'];

/**
 * Each strategy's allocation over time (performance.allocationOverTime): one step line per strategy,
 * in % of the normal size, on a time axis of market time. The container says what it drew
 * (data-series="name:points …") and a legend names the colours.
 */
export function renderAllocation(series) {
  const c = state.charts;
  const list = series || [];
  const legend = $('allocation-legend');
  if (!c) return;
  const LC = LightweightCharts;
  const drawn = [];
  for (const [name, line] of c.alloc) {
    if (list.some((s) => s.strategy === name)) continue;
    c.allocChart.removeSeries(line);
    c.alloc.delete(name);
  }
  list.forEach((s, i) => {
    const color = STRATEGY_COLORS[i % STRATEGY_COLORS.length];
    let line = c.alloc.get(s.strategy);
    if (!line) {
      line = c.allocChart.addSeries(LC.LineSeries, {
        color,
        lineWidth: 2,
        lineType: LC.LineType.WithSteps,
        priceFormat: { type: 'custom', formatter: (v) => `${v.toFixed(0)} %` },
        // a share: always 0–100 %, so a flat line at 100 % reads as such
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
      });
      c.alloc.set(s.strategy, line);
    } else line.applyOptions({ color });
    const points = toSeries(s.points, (p) => p.share * 100);
    line.setData(points);
    drawn.push({ name: s.strategy, color, n: points.length });
  });
  c.allocChart.timeScale().fitContent();
  $('allocation-chart').dataset.series = drawn.map((d) => `${d.name}:${d.n}`).join(' ');
  legend.replaceChildren(
    ...(drawn.length
      ? drawn.map((d) => {
          const item = el('span', { class: 'legend-item', text: d.name });
          // through the CSSOM, not a style attribute: the page's CSP allows no inline style
          item.style.setProperty('--c', d.color);
          return item;
        })
      : [el('span', { class: 'empty', text: 'No entry decision yet.' })]),
  );
}
