/* global document, window, fetch, EventSource, sessionStorage, LightweightCharts, setTimeout */
/**
 * The Sapphire dashboard page: plain ES module, no build step (served as-is by dashboard/plugin.ts).
 *
 * Data: one GET /dashboard (a DashboardView, see dashboard/dashboard-view.ts) on load, then the
 * server-sent events of GET /events keep the page current; trades, fills and status events
 * trigger a (throttled) reload of the view for the price markers. Everything from the server
 * is written with textContent, never as HTML.
 */
import { setupConsent } from './consent.js';

const TOKEN_KEY = 'sapphire.adminToken';
const FEED_MAX = 200;
const COLORS = { pos: '#26a69a', neg: '#ef5350', warn: '#f7b84f', accent: '#4f8ff7', muted: '#8899aa' };

const state = {
  view: null,
  symbol: null,
  consentDone: false,
  lastDecision: null,
  outcome: null,
  reasoning: [],
  charts: null,
  equity: { lastSec: -Infinity, peak: -Infinity },
  reloadTimer: null,
  /** price chart timeframe in minutes of the bars' own interval multiples (1 = as traded) */
  timeframe: 1,
  feedFilter: 'all',
  profitPeriod: 'daily',
  tradesPage: 1,
  priceLines: [],
};
const TRADES_PAGE = 25;

// ---------- formatting ----------
const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
function fmt(v, digits = 2) {
  if (!isNum(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
const money = (v) => fmt(v, 2);
function price(v) {
  if (!isNum(v)) return '—';
  const a = Math.abs(v);
  return fmt(v, a >= 1000 ? 2 : a >= 1 ? 4 : 6);
}
function qty(v) {
  if (!isNum(v)) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}
const pct = (fraction, digits = 2) => (isNum(fraction) ? `${fmt(fraction * 100, digits)} %` : '—');
const signed = (v, f = money) => (isNum(v) && v > 0 ? `+${f(v)}` : f(v));
const sign = (v) => (!isNum(v) || v === 0 ? '' : v > 0 ? 'pos' : 'neg');
/** Market time (bars, trades, decisions): always with its year, always UTC. */
function when(ms) {
  if (!isNum(ms)) return '—';
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
/** Wall-clock time (operator actions, uptime): labelled so it is never read as market time. */
const wall = (ms) => (isNum(ms) ? `${when(ms)} UTC (wall)` : '—');
const sec = (ms) => Math.floor(ms / 1000);
const ACTION_TEXT = { 'enter-long': 'Go long', 'enter-short': 'Go short', exit: 'Exit' };
const ACTION_DENIED_TEXT = { 'enter-long': 'long', 'enter-short': 'short', exit: 'exit' };
const RISK_TEXT = {
  ACTIVE: 'trading normally',
  REDUCING: 'position sizes reduced (losses or drawdown)',
  HALTED: 'no new entries, exits only (drawdown limit or operator)',
};

// ---------- DOM helpers ----------
const $ = (id) => document.getElementById(id);
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === null) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v);
  }
  for (const c of children) if (c !== null && c !== undefined) node.append(c);
  return node;
}
const td = (text, cls) => el('td', { class: cls, text: String(text) });
function fillTable(bodyId, emptyId, rows) {
  $(bodyId).replaceChildren(...rows);
  if (emptyId) $(emptyId).hidden = rows.length > 0;
}
function setPill(id, text, level) {
  const p = $(id);
  p.textContent = text;
  p.className = `pill ${level || ''}`;
}

// ---------- charts ----------
function makeChart(container) {
  return LightweightCharts.createChart(container, {
    autoSize: true,
    layout: { background: { color: 'transparent' }, textColor: COLORS.muted },
    grid: { vertLines: { color: '#1f2a36' }, horzLines: { color: '#1f2a36' } },
    timeScale: { timeVisible: true, secondsVisible: false, borderColor: '#263241', minBarSpacing: 0.01 },
    rightPriceScale: { borderColor: '#263241', minimumWidth: 80 },
  });
}

function initCharts() {
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
  state.charts = { eqChart, equity, ddChart, drawdown, priceChart, candles, markers, profitChart, profit };
}

/** Unique ascending seconds (the last value of a second wins). */
function toSeries(points, value) {
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

function renderEquity(curve) {
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

function appendEquity(time, equity) {
  const c = state.charts;
  if (!c || !isNum(time) || !isNum(equity)) return;
  const t = sec(time);
  if (t < state.equity.lastSec) return;
  state.equity.lastSec = t;
  state.equity.peak = Math.max(state.equity.peak, equity);
  c.equity.update({ time: t, value: equity });
  c.drawdown.update({ time: t, value: state.equity.peak > 0 ? (equity / state.equity.peak - 1) * 100 : 0 });
}

function renderPrices(prices) {
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
function barSeconds(candles) {
  let step = Infinity;
  for (let i = 1; i < candles.length; i++) step = Math.min(step, sec(candles[i].time) - sec(candles[i - 1].time));
  return isNum(step) && step > 0 ? step : 300;
}

/** Candles merged into `spanS`-second buckets (open of the first, close of the last). */
function aggregate(candles, spanS) {
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

const spanText = (s) => (s % 3600 === 0 ? `${s / 3600}h` : `${s / 60}m`);

function renderTimeframes(intervalS) {
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
function drawPositionLines(symbol) {
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

function renderProfitBars(perf) {
  const c = state.charts;
  if (!c) return;
  const rows = perf[state.profitPeriod] || [];
  c.profit.setData(
    rows.map((r) => ({ time: sec(r.time), value: r.netPnl, color: r.netPnl >= 0 ? COLORS.pos : COLORS.neg })),
  );
  c.profitChart.timeScale().fitContent();
}

// ---------- sections ----------
function renderPortfolio(p, curve) {
  $('pf-equity').textContent = money(p.equity);
  const first = curve && curve.length ? curve[0].equity : null;
  const since = isNum(first) && first > 0 ? p.equity / first - 1 : null;
  const sub = $('pf-equity-sub');
  sub.textContent = since === null ? '' : `${since >= 0 ? '+' : ''}${pct(since)} since start`;
  sub.className = `s ${sign(since)}`;
  $('pf-balance').textContent = money(p.balance);
  $('pf-exposure').textContent = money(p.exposure);
  $('pf-leverage').textContent = `leverage ${fmt(p.leverage, 2)}×`;
  $('pf-drawdown').textContent = pct(p.drawdown);
  const used = isNum(p.maxDrawdownLimit) && p.maxDrawdownLimit > 0 ? p.drawdown / p.maxDrawdownLimit : 0;
  const bar = $('pf-dd-bar');
  bar.style.width = `${Math.max(0, Math.min(100, used * 100)).toFixed(1)}%`;
  bar.className = used >= 0.8 ? 'bad' : used >= 0.5 ? 'warn' : '';
  $('pf-dd-limit').textContent =
    `trading halts at ${pct(p.maxDrawdownLimit, 0)} (${fmt(used * 100, 0)} % of the limit used)`;
}

function renderPositions(positions) {
  // the "why opened" column only when the service explains its entries
  document.body.classList.toggle(
    'has-reasons',
    positions.some((p) => p.reason),
  );
  fillTable(
    'positions-body',
    'positions-empty',
    positions.map((p) =>
      el(
        'tr',
        {},
        td(p.symbol),
        td(p.side, p.side === 'LONG' ? 'pos' : 'neg'),
        td(signed(p.unrealizedPnl), `num ${sign(p.unrealizedPnl)}`),
        td(qty(p.quantity), 'num'),
        td(price(p.entryPrice), 'num'),
        td(price(p.markPrice), 'num'),
        td(p.stopPrice === null ? 'none' : price(p.stopPrice), 'num'),
        td(p.takeProfitPrice === null ? 'none' : price(p.takeProfitPrice), 'num'),
        td(p.reason || '—', 'wrap why-col'),
        el(
          'td',
          {},
          el('button', {
            type: 'button',
            class: 'admin close-position',
            disabled: state.view && state.view.config && !state.view.config.adminConfigured ? '' : undefined,
            'data-symbol': p.symbol,
            text: 'Close',
            title: `Close ${p.symbol} at market (reduce-only, next bar)`,
            onclick: () => closePosition(p),
          }),
        ),
      ),
    ),
  );
}

/** How it is doing lately: won/lost and net PnL of the recent trades in the view. */
function renderTradeCard(trades) {
  const recent = trades.slice(0, 100);
  const wins = recent.filter((t) => t.netPnl > 0).length;
  const net = recent.reduce((a, t) => a + (isNum(t.netPnl) ? t.netPnl : 0), 0);
  $('pf-trades').textContent = recent.length ? `${wins} of ${recent.length} won` : 'none yet';
  const sub = $('pf-trades-sub');
  sub.textContent = recent.length ? `net ${signed(net)} USDT` : 'no closed trade';
  sub.className = `s ${sign(net)}`;
}

const tradeRowEl = (t) =>
  el(
    'tr',
    {},
    td(when(t.time)),
    td(t.symbol),
    td(signed(t.netPnl), `num ${sign(t.netPnl)}`),
    td(t.side, t.side === 'LONG' ? 'pos' : 'neg'),
    td(qty(t.quantity), 'num'),
    td(price(t.entryPrice), 'num'),
    td(price(t.exitPrice), 'num'),
    td(pct(t.returnPct), `num ${sign(t.returnPct)}`),
    td(t.exitReason),
  );

/** The history's first page comes with the view (and live trades); older pages from GET /trades. */
function renderTrades(trades) {
  renderTradeCard(trades);
  if (state.tradesPage !== 1) return;
  fillTable('trades-body', 'trades-empty', trades.slice(0, TRADES_PAGE).map(tradeRowEl));
  $('trades-page').textContent = `page 1 · newest ${Math.min(TRADES_PAGE, trades.length)}`;
  $('trades-prev').disabled = true;
  $('trades-next').disabled = trades.length <= TRADES_PAGE;
}

async function showTradesPage(page) {
  if (page === 1) {
    state.tradesPage = 1;
    renderTrades(state.view.trades);
    return;
  }
  const res = await fetch(`/trades?page=${page}&size=${TRADES_PAGE}`, { headers: { accept: 'application/json' } });
  if (!res.ok) return showAnswer(`Trade history page ${page}: ${res.status} ${res.statusText}`, 'bad');
  const body = await res.json();
  state.tradesPage = body.page;
  fillTable('trades-body', 'trades-empty', body.trades.map(tradeRowEl));
  $('trades-page').textContent = `page ${body.page} of ${body.pages} · ${body.total} trades`;
  $('trades-prev').disabled = body.page <= 1;
  $('trades-next').disabled = body.page >= body.pages;
}

function gateList(gates) {
  return el(
    'ul',
    { class: 'gates' },
    ...(gates || []).map((g) =>
      el('li', {
        class: g.passed ? 'pass' : 'fail',
        title: `value ${isNum(g.value) ? g.value.toPrecision(4) : '—'} vs limit ${isNum(g.limit) ? g.limit.toPrecision(4) : '—'}`,
        text: `${g.passed ? '✓' : '✗'} ${g.gate}${isNum(g.value) ? ` ${g.value.toPrecision(3)}` : ''}${isNum(g.limit) ? ` / ${g.limit.toPrecision(3)}` : ''}`,
      }),
    ),
  );
}

const AGENT_KNOWN = new Set(['name', 'status', 'lastThesis', 'lastGates', 'winRate']);

/** Fields a newer service adds to an agent (availability, last failure …), as "key: value". */
function agentExtras(a) {
  return Object.entries(a)
    .filter(([k, v]) => !AGENT_KNOWN.has(k) && v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k.replace(/([A-Z])/g, ' $1').toLowerCase()}: ${isNum(v) && v > 1e11 ? when(v) : String(v)}`);
}

function renderAgents(agents) {
  // agents off: no empty panel, one line in the system panel says so
  const active = agents.filter((a) => a.status !== 'disabled');
  $('agents').hidden = active.length === 0;
  $('agents-empty').hidden = active.length > 0;
  $('agents-body').replaceChildren(
    ...active.map((a) =>
      el(
        'tr',
        {},
        td(a.name),
        el(
          'td',
          {},
          el('span', {
            class: `pill ${/^(ok|ready|active|enabled|embedded|remote)$/i.test(a.status) ? 'ok' : /error|fail|down/i.test(a.status) ? 'bad' : 'warn'}`,
            text: a.status,
          }),
          ...agentExtras(a).map((x) => el('div', { class: 'muted small', text: x })),
        ),
        td(isNum(a.winRate) ? pct(a.winRate, 0) : '—', 'num'),
        el('td', {}, gateList(a.lastGates)),
        td(a.lastThesis || '—', 'wrap'),
      ),
    ),
  );
}

const LOCK_TEXT = {
  'stoploss-guard': 'stop-loss guard',
  cooldown: 'cooldown',
  'entry-in-flight': 'entry in flight',
  'operator-halt': 'operator halt',
  'drawdown-halt': 'drawdown halt',
};

/** Denials in a row that say the same thing (symbol, stage, rule) become one row with a count. */
function collapseDenials(denials) {
  const rows = [];
  for (const d of denials) {
    const last = rows[rows.length - 1];
    if (last && last.symbol === d.symbol && last.stage === d.stage && last.rule === d.rule) {
      last.count++;
      last.first = d.time;
    } else rows.push({ ...d, count: 1, first: d.time });
  }
  return rows;
}

function renderRisk(risk) {
  const locked = risk.entriesOpen === false;
  const level =
    risk.state === 'HALTED' || locked ? 'bad' : risk.state === 'REDUCING' || risk.locks?.length ? 'warn' : 'ok';
  setPill('risk-state', `risk ${risk.state}`, level);
  $('risk-state-text').textContent = `${risk.state} — ${RISK_TEXT[risk.state] || ''}`;
  $('risk-headline').textContent = risk.headline || risk.state;
  $('risk-headline').className = level === 'ok' ? 'pos' : level === 'bad' ? 'neg' : 'warn-text';
  fillTable(
    'locks-body',
    'locks-empty',
    (risk.locks || []).map((l) =>
      el(
        'tr',
        {},
        td(LOCK_TEXT[l.kind] || l.kind),
        td(l.symbol || 'all'),
        td(l.until === null ? 'until lifted' : when(l.until)),
        td(l.detail, 'wrap'),
      ),
    ),
  );
  fillTable(
    'arms-body',
    'arms-empty',
    (risk.arms || []).map((a) =>
      el(
        'tr',
        {},
        td(a.arm),
        td(a.meanReturn === null ? '—' : pct(a.meanReturn), `num ${sign(a.meanReturn)}`),
        td(`${a.pulls}${a.judged ? '' : ' (not judged yet)'}`, 'num'),
        td(pct(a.fundedOdds, 0), 'num'),
        td(a.allocation === 'funded' ? 'funded, full size' : `probe only, ${pct(a.share, 0)} size`),
      ),
    ),
  );
  fillTable(
    'denials-body',
    'denials-empty',
    collapseDenials(risk.recentDenials).map((d) =>
      el(
        'tr',
        {},
        td(d.count > 1 ? `${when(d.first)} → ${when(d.time)}` : when(d.time)),
        td(d.symbol),
        td(d.stage),
        td(d.count > 1 ? `${d.rule} ×${d.count}` : d.rule),
        td(d.detail, 'wrap'),
      ),
    ),
  );
}

function renderPerformance(perf) {
  if (!perf) return;
  $('pf-realised').textContent = signed(perf.realizedPnl);
  $('pf-realised').className = `v ${sign(perf.realizedPnl)}`;
  $('perf-winrate').textContent = pct(perf.winRate, 1);
  $('perf-trades').textContent = `${perf.trades} closed trades kept`;
  $('perf-pf').textContent = isNum(perf.profitFactor) ? fmt(perf.profitFactor, 2) : perf.trades ? 'no loss yet' : '—';
  $('perf-net').textContent = signed(perf.netPnl);
  $('perf-net').className = `v ${sign(perf.netPnl)}`;
  const row = (r, what) =>
    el(
      'tr',
      {},
      td(`${r.symbol}${what}`),
      td(signed(r.netPnl), `num ${sign(r.netPnl)}`),
      td(r.trades, 'num'),
      td(pct(r.winRate, 0), 'num'),
      td(isNum(r.profitFactor) ? fmt(r.profitFactor, 2) : '—', 'num'),
    );
  const rows = perf.perSymbol.map((r) => row(r, ''));
  if (perf.perStrategy.length > 1) rows.push(...perf.perStrategy.map((r) => row(r, ' (strategy)')));
  $('perf-body').replaceChildren(...rows);
  renderProfitBars(perf);
}

/** Why the Cancel button of an order is off (null: it is on). */
function cancelOff(o) {
  if (state.view && state.view.config && !state.view.config.adminConfigured)
    return 'the service has no ADMIN_API_TOKEN: restart it with one';
  if (o.cancellable === false || o.clientOrderId === null) return o.notCancellable || 'not cancellable';
  return null;
}

function renderOrders(orders) {
  fillTable(
    'orders-body',
    'orders-empty',
    (orders || []).map((o) => {
      const off = cancelOff(o);
      return el(
        'tr',
        { 'data-order': o.clientOrderId || '' },
        td(o.symbol),
        td(o.type),
        td(o.side, o.side === 'BUY' ? 'pos' : 'neg'),
        td(o.quantity === 0 ? 'whole position' : qty(o.quantity), 'num'),
        td(o.stopPrice === null ? 'market' : price(o.stopPrice), 'num'),
        td(o.reason),
        td(o.time === null ? '—' : when(o.time)),
        el(
          'td',
          { class: 'cancel-cell' },
          el('button', {
            type: 'button',
            class: 'cancel-order',
            disabled: off === null ? undefined : '',
            'data-order': o.clientOrderId || '',
            text: 'Cancel',
            title: off === null ? `Cancel ${o.clientOrderId}: withdrawn before it fills` : off,
            onclick: () => cancelOrder(o),
          }),
          off === null ? null : el('span', { class: 'why-off muted small', text: off }),
        ),
      );
    }),
  );
}

function renderHealth(h) {
  if (!h) return;
  $('health-bar').textContent = h.lastBarTime === null ? 'none yet' : `${when(h.lastBarTime)} UTC`;
  $('health-error-wrap').hidden = !h.lastError;
  $('health-error').textContent = h.lastError || '';
}

function renderAudit(lines) {
  fillTable(
    'audit-body',
    'audit-empty',
    (lines || []).map((a) =>
      el(
        'tr',
        {},
        td(wall(a.wallTime)),
        td(a.action),
        td(a.status, a.status < 300 ? 'pos' : 'neg'),
        td(a.from),
        td(a.outcome || '—', 'wrap'),
      ),
    ),
  );
}

/** Controls apply only when they can act: Start when stopped, Stop when running; none without a token. */
function renderControls(view) {
  const admin = !view.config || view.config.adminConfigured;
  const off = 'the service has no ADMIN_API_TOKEN: restart it with one';
  $('admin-off').hidden = admin;
  const drawdownHalt = (view.risk.locks || []).some((l) => l.kind === 'drawdown-halt');
  const set = (id, enabled, why) => {
    const b = $(id);
    b.dataset.title ??= b.title;
    b.disabled = !admin || !enabled;
    b.title = !admin ? off : enabled ? b.dataset.title : why;
  };
  set(
    'btn-start',
    !view.system.running && !drawdownHalt,
    drawdownHalt ? 'halted by the drawdown floor: only new settings lift it' : 'already running',
  );
  set('btn-stop', view.system.running, 'already stopped: new entries are off');
  set('btn-emergency', true, '');
  for (const b of document.querySelectorAll('button.admin')) {
    b.disabled = !admin;
    if (!admin) b.title = off;
  }
}

function uptime(s) {
  if (!isNum(s)) return '—';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d ? `${d} d ` : ''}${h} h ${m} min`;
}

function renderSystem(s) {
  setPill('mode', s.mode, s.mode === 'live' ? 'bad' : 'ok');
  setPill('running', s.running ? 'running' : 'stopped', s.running ? 'ok' : 'bad');
  const c = state.view && state.view.config;
  const badge = $('replay-badge');
  badge.hidden = !(c && c.replay);
  if (c && c.replay) badge.textContent = `replaying ${c.replay.sample} at 1 bar / ${c.replay.msPerBar} ms`;
  const rows = [
    ['Engine', s.running ? 'running' : 'stopped'],
    ['Mode', s.mode],
    ['Exchange', s.exchange],
    ['Redis', s.redis],
  ];
  if (c) {
    rows.push(
      ['Version', `${c.version}${c.commit ? ` (${c.commit})` : ''}`],
      ['Started', wall(c.startedAt)],
      ['Uptime', uptime(c.uptimeS)],
      ['Data source', c.dataSource],
      ['Symbols', c.symbols.join(', ')],
      ['Interval', c.interval],
      ['Strategies', c.strategies.join(', ')],
      ['Agents', c.agentsEnabled ? 'on (embedded or remote, see Agents)' : 'off (AGENTS_ENABLED=false)'],
      ['Sizing', c.sizing],
      ['Leverage', `${c.leverage}×`],
      ...c.limits.map((l) => [l.name, l.value]),
      ['Admin controls', c.adminConfigured ? 'on' : 'off: no ADMIN_API_TOKEN'],
    );
  }
  rows.push(...(s.models || []).map((m) => [`Model ${m.name}`, m.status]));
  if (!(s.models || []).length) rows.push(['Models', 'none configured']);
  if (state.view && isNum(state.view.time)) rows.push(['Snapshot', wall(state.view.time)]);
  $('system-body').replaceChildren(...rows.flatMap(([k, v]) => [el('dt', { text: k }), el('dd', { text: String(v) })]));
}

function renderReports(reports) {
  $('reports-empty').hidden = reports.length > 0;
  $('reports-list').replaceChildren(
    ...reports.map((name) =>
      el(
        'li',
        {},
        el('a', {
          href: `/reports/${name.split('/').map(encodeURIComponent).join('/')}`,
          target: '_blank',
          rel: 'noopener',
          text: name,
        }),
      ),
    ),
  );
}

function tradeLines(t, headline) {
  return [
    el('p', {
      class: headline ? 'headline' : 'trade-line',
      text: `${headline ? 'Last trade: ' : ''}${t.side === 'LONG' ? 'long' : 'short'} ${t.symbol}, closed by ${t.exitReason}, ${signed(t.netPnl)} USDT (${pct(t.returnPct)})`,
    }),
    el('p', {
      class: 'muted',
      text: `opened ${when(t.openedAt)} at ${price(t.entryPrice)}, closed ${when(t.time)} at ${price(t.exitPrice)}`,
    }),
    ...(t.entryReason ? [el('p', { class: 'entry-reason', text: `Opened because: ${t.entryReason}` })] : []),
  ];
}

/**
 * The "why" panel: the last decision (its checks, the reasoning, and what became of it: denied
 * by a stage or filled), then the last closed trade. Before any live decision: the agents' last
 * theses and the last trade from the view.
 */
function renderWhy() {
  const body = $('why-body');
  const d = state.lastDecision;
  const v = state.view;
  const t = v && v.trades[0];
  const parts = [];
  if (d) {
    const notes = state.reasoning.filter((r) => r.symbol === d.symbol && r.time === d.time && r.text);
    const o = state.outcome;
    const denied = o && o.level === 'neg';
    parts.push(
      el('p', {
        class: `headline${denied ? ' neg' : ''}`,
        text: denied
          ? `Denied: ${ACTION_DENIED_TEXT[d.action] || d.action} ${d.symbol} @ ${price(d.price)} (proposed at confidence ${pct(d.confidence, 0)})`
          : `${ACTION_TEXT[d.action] || d.action} ${d.symbol} @ ${price(d.price)} — confidence ${pct(d.confidence, 0)}`,
      }),
      el('p', { class: 'muted', text: `${when(d.time)} UTC (market) · signal source ${d.source}` }),
      el('p', {
        class: `outcome ${o ? o.level : 'muted'}`,
        text: o ? o.text : 'Outcome: not denied so far; waiting for an order or a fill.',
      }),
      el('h3', { text: 'Checks' }),
      d.gates && d.gates.length ? gateList(d.gates) : el('p', { class: 'muted', text: 'No gate recorded.' }),
    );
    if (notes.length) {
      parts.push(
        el('h3', { text: 'Reasoning' }),
        ...notes.map((n) => el('blockquote', {}, el('b', { text: `${n.agent}: ` }), n.text)),
      );
    }
    if (t) parts.push(el('h3', { text: 'Last trade' }), ...tradeLines(t, false));
  } else {
    if (t) parts.push(...tradeLines(t, true));
    for (const a of v ? v.agents.filter((x) => x.lastThesis) : []) {
      parts.push(
        el('div', {}, el('blockquote', {}, el('b', { text: `${a.name}: ` }), a.lastThesis), gateList(a.lastGates)),
      );
    }
  }
  if (!parts.length) parts.push(el('p', { class: 'empty', text: 'No decision yet: the feed fills as bars close.' }));
  body.replaceChildren(...parts);
}

function render(view) {
  state.view = view;
  initCharts();
  renderPortfolio(view.portfolio, view.equityCurve);
  renderEquity(view.equityCurve);
  renderPositions(view.positions);
  renderPrices(view.prices);
  renderTrades(view.trades);
  renderAgents(view.agents);
  renderRisk(view.risk);
  renderSystem(view.system);
  renderReports(view.reports);
  renderPerformance(view.performance);
  renderOrders(view.openOrders);
  renderHealth(view.health);
  renderAudit(view.audit);
  renderControls(view);
  renderForceForm(view);
  renderWhy();
  document.body.dataset.loaded = '1';
}

// ---------- batched rendering ----------
/**
 * A busy replay sends dozens of events a second; panels they touch are redrawn at most every
 * 100 ms (each once), so the page stays responsive to the operator.
 */
const pendingRenders = new Set();
let renderTimer = null;
function soon(fn) {
  pendingRenders.add(fn);
  if (renderTimer) return;
  renderTimer = setTimeout(() => {
    renderTimer = null;
    const fns = [...pendingRenders];
    pendingRenders.clear();
    for (const f of fns) f();
  }, 100);
}

/** Panel redraws from the current view, one function each so a batch draws each panel once. */
const redraw = {
  trades: () => renderTrades(state.view.trades),
  portfolio: () => renderPortfolio(state.view.portfolio, state.view.equityCurve),
  positions: () => {
    renderPositions(state.view.positions);
    renderControls(state.view);
  },
  risk: () => renderRisk(state.view.risk),
};

// ---------- feed ----------
/** How far back a repeat is looked for: one bar's rows for a few symbols. */
const COLLAPSE_WINDOW = 12;
const FEED_KINDS = ['all', 'decision', 'reasoning', 'fill', 'trade', 'risk', 'status'];

/**
 * Adds a feed row. A row with a `key` that repeats one of the last few rows (the same denial of
 * the same symbol, bar after bar) replaces it, with a count and the time span, so the feed is not
 * a wall of identical lines.
 */
function addFeed(kind, time, text, key, cls) {
  const list = $('feed-list');
  let count = 1;
  let first = time;
  if (key) {
    const recent = Array.from(list.children).slice(0, COLLAPSE_WINDOW);
    const same = recent.find((li) => li.dataset.key === key);
    if (same) {
      count = Number(same.dataset.count) + 1;
      first = Number(same.dataset.first);
      same.remove();
    }
  }
  const item = el(
    'li',
    { 'data-kind': kind, 'data-key': key, 'data-count': String(count), 'data-first': String(first), class: cls },
    el('time', { text: count > 1 ? `${when(first)} → ${when(time)}` : when(time) }),
    el('span', { class: `tag ${kind}`, text: kind }),
    el('span', { text: count > 1 ? `${text} (×${count})` : text }),
  );
  list.prepend(item);
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
  return item;
}

function renderFeedFilter() {
  $('feed-filter').replaceChildren(
    ...FEED_KINDS.map((k) =>
      el('button', {
        type: 'button',
        role: 'tab',
        'data-filter': k,
        'aria-selected': String(k === state.feedFilter),
        text: k === 'all' ? 'All' : k,
        onclick: () => {
          state.feedFilter = k;
          $('feed-list').dataset.filter = k;
          renderFeedFilter();
        },
      }),
    ),
  );
}

function seedFeed(view) {
  if ($('feed-list').children.length) return;
  const items = [
    ...view.trades.slice(0, 20).map((t) => ({ kind: 'trade', time: t.time, text: tradeText(t) })),
    ...view.risk.recentDenials
      .slice(0, 20)
      .map((d) => ({ kind: 'risk', time: d.time, text: denialText(d), key: denialKey(d) })),
  ].sort((a, b) => a.time - b.time);
  for (const i of items) addFeed(i.kind, i.time, i.text, i.key);
}

const tradeText = (t) =>
  `${t.symbol} ${t.side} closed (${t.exitReason}): ${signed(t.netPnl)} USDT, ${pct(t.returnPct)}`;
const denialText = (d) => `${d.symbol} denied by ${d.stage}/${d.rule}: ${d.detail}`;
const denialKey = (d) => `risk|${d.symbol}|${d.stage}|${d.rule}`;

const HANDLERS = {
  decision(d) {
    state.lastDecision = d;
    state.outcome = null;
    state.reasoning = state.reasoning.filter((r) => r.time >= d.time);
    const gates = (d.gates || []).map((g) => `${g.gate} ${g.passed ? '✓' : '✗'}`).join(', ');
    state.decisionItem = addFeed(
      'decision',
      d.time,
      `${d.symbol} ${ACTION_TEXT[d.action] || d.action} @ ${price(d.price)} (conf ${pct(d.confidence, 0)})${gates ? ` — ${gates}` : ''}`,
      `decision|${d.symbol}|${d.action}|${d.source}`,
    );
    soon(renderWhy);
  },
  reasoning(r) {
    if (!r.text) return;
    const seen = state.reasoning.some(
      (x) => x.time === r.time && x.symbol === r.symbol && x.agent === r.agent && x.text === r.text,
    );
    if (seen) return; // a repeat (e.g. replayed after a reconnect)
    state.reasoning.push(r);
    if (state.reasoning.length > 50) state.reasoning.shift();
    addFeed('reasoning', r.time, `${r.symbol} ${r.agent}: ${r.text}`, `reasoning|${r.symbol}|${r.agent}`);
    soon(renderWhy);
  },
  fill(f) {
    const d = state.lastDecision;
    if (d && !state.outcome && f.symbol === d.symbol && f.time >= d.time) {
      state.outcome = { level: 'pos', text: `Filled: ${f.side} ${qty(f.quantity)} @ ${price(f.price)} (${f.reason})` };
      soon(renderWhy);
    }
    addFeed(
      'fill',
      f.time,
      `${f.symbol} ${f.side} ${qty(f.quantity)} @ ${price(f.price)} (fee ${money(f.fee)}, ${f.reason})`,
    );
    scheduleReload();
  },
  trade(t) {
    addFeed('trade', t.time, tradeText(t));
    if (state.view) {
      state.view.trades.unshift(t);
      soon(redraw.trades);
      if (!state.lastDecision) soon(renderWhy);
    }
    scheduleReload();
  },
  portfolio(p) {
    if (!state.view) return;
    state.view.portfolio = {
      balance: p.balance,
      equity: p.equity,
      exposure: p.exposure,
      leverage: p.leverage,
      drawdown: p.drawdown,
      maxDrawdownLimit: p.maxDrawdownLimit,
    };
    soon(redraw.portfolio);
    appendEquity(p.time, p.equity);
    if (Array.isArray(p.positions)) {
      state.view.positions = p.positions;
      soon(redraw.positions);
    }
  },
  risk(r) {
    if (!state.view) return;
    state.view.risk.state = r.state;
    if (r.denial) {
      const d = state.lastDecision;
      if (d && r.denial.symbol === d.symbol && r.denial.time === d.time) {
        state.outcome = { level: 'neg', text: `Denied by ${r.denial.stage} (${r.denial.rule}): ${r.denial.detail}` };
        // the decision's feed row says it was denied, not only that it was proposed
        const item = state.decisionItem;
        if (item && item.isConnected && !item.classList.contains('denied')) {
          item.classList.add('denied');
          item.lastElementChild.textContent = `DENIED (${r.denial.rule}) — ${item.lastElementChild.textContent}`;
        }
        soon(renderWhy);
      }
      state.view.risk.recentDenials.unshift(r.denial);
      state.view.risk.recentDenials.length = Math.min(state.view.risk.recentDenials.length, 20);
      addFeed('risk', r.time, denialText(r.denial), denialKey(r.denial));
    } else {
      addFeed('risk', r.time, `risk state ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
    }
    soon(redraw.risk);
  },
  order(o) {
    // a working order ended without a fill: gone from the open orders at the next reload
    addFeed(
      'fill',
      o.time,
      `${o.symbol} order ${o.clientOrderId} ${o.outcome === 'cancelled' ? 'cancelled' : 'rejected'}: ${o.reason}`,
    );
    scheduleReload();
  },
  status(s) {
    if (!state.view) return;
    const before = state.view.system;
    if (before.running !== s.running || before.mode !== s.mode) {
      addFeed('status', Date.now(), `engine ${s.running ? 'running' : 'stopped'} (${s.mode})`);
    }
    state.view.system = s;
    renderSystem(s);
    scheduleReload();
  },
};

function scheduleReload() {
  if (state.reloadTimer) return;
  state.reloadTimer = setTimeout(() => {
    state.reloadTimer = null;
    load();
  }, 1500);
}

function connect() {
  if (typeof EventSource === 'undefined') return;
  const es = new EventSource('/events');
  let broken = false;
  for (const [name, handle] of Object.entries(HANDLERS)) {
    es.addEventListener(name, (ev) => {
      let data;
      try {
        data = JSON.parse(ev.data);
      } catch {
        return;
      }
      handle(data);
    });
  }
  es.onerror = () => {
    broken = true;
    $('conn').hidden = false;
  };
  es.onopen = () => {
    $('conn').hidden = true;
    document.body.dataset.live = '1';
    if (broken) {
      broken = false;
      load();
    }
  };
}

async function load() {
  try {
    const res = await fetch('/dashboard', { headers: { accept: 'application/json' } });
    if (!res.ok) throw new Error(`GET /dashboard → ${res.status}`);
    const view = await res.json();
    render(view);
    seedFeed(view);
    if (!state.consentDone) {
      state.consentDone = true;
      setupConsent(view.analytics);
    }
  } catch (e) {
    $('conn').hidden = false;
    $('conn').textContent = `Cannot load the dashboard: ${e instanceof Error ? e.message : String(e)}`;
  }
}

// ---------- admin actions ----------
const ACTIONS = {
  start: { path: '/start', title: 'Start trading', what: 'Start: resume opening new positions.' },
  stop: { path: '/stop', title: 'Stop trading', what: 'Stop: no new entries; stops and exits keep running.' },
  emergency: {
    path: '/emergency_stop',
    title: 'Emergency stop',
    what: 'EMERGENCY STOP: close every position at market and halt.',
    danger: true,
  },
};

/** What an emergency stop will close, from the view: one line per position. */
function closingList() {
  const positions = (state.view && state.view.positions) || [];
  if (!positions.length) return ['No open position: the bot halts, nothing is closed.'];
  return positions.map(
    (p) =>
      `${p.symbol} ${p.side} ${qty(p.quantity)} @ ${price(p.entryPrice)} — unrealised ${signed(p.unrealizedPnl)} USDT`,
  );
}

function askToken(title, what, opts = {}) {
  const dialog = $('token-dialog');
  const input = $('token-input');
  $('token-title').textContent = `${title}: admin token`;
  $('token-what').textContent = what;
  const list = $('token-list');
  list.hidden = !opts.list;
  list.replaceChildren(...(opts.list || []).map((line) => el('li', { text: line })));
  dialog.classList.toggle('danger', Boolean(opts.danger));
  $('token-ok').textContent = opts.confirm || 'Send';
  $('token-ok').className = opts.danger ? 'danger' : 'primary';
  input.value = sessionStorage.getItem(TOKEN_KEY) || '';
  return new Promise((resolve) => {
    const done = (value) => {
      $('token-ok').onclick = null;
      $('token-cancel').onclick = null;
      input.onkeydown = null;
      dialog.oncancel = null;
      if (dialog.open) dialog.close();
      resolve(value);
    };
    const ok = () => {
      const v = input.value.trim();
      if (!v) return input.focus();
      done(v);
    };
    $('token-ok').onclick = ok;
    $('token-cancel').onclick = () => done(null);
    dialog.oncancel = (ev) => {
      ev.preventDefault();
      done(null);
    };
    input.onkeydown = (ev) => {
      if (ev.key !== 'Enter') return;
      // without this, the Enter press would go on to "click" the button that regains focus
      ev.preventDefault();
      ok();
    };
    dialog.showModal();
    input.focus();
  });
}

function showAnswer(text, level) {
  const a = $('answer');
  a.hidden = false;
  a.textContent = text;
  a.className = `answer ${level || ''}`;
}

/** An answer body in words: its message, note or reason, and what it did. */
function answerText(body) {
  if (!body || typeof body !== 'object') return String(body ?? '');
  const parts = [];
  const said = body.message || body.note || (body.accepted === false ? body.reason : null);
  if (said) parts.push(said);
  if (body.accepted === true && !body.message) parts.push('accepted by every stage');
  if (typeof body.running === 'boolean') parts.push(`engine ${body.running ? 'running' : 'stopped'}`);
  if (body.risk_state) parts.push(`risk ${body.risk_state}`);
  if (Array.isArray(body.orders) && body.orders.length)
    parts.push(`flatten orders: ${body.orders.map((o) => `${o.side} ${qty(o.quantity)} ${o.symbol}`).join(', ')}`);
  if (Array.isArray(body.stages)) {
    const denied = body.stages.find((x) => x.kind === 'denied');
    const order = body.stages.find((x) => x.kind === 'order');
    if (denied) parts.push(`denied by ${denied.stage} (${denied.rule}): ${denied.detail}`);
    else if (order) parts.push(`order ${order.side} ${qty(order.quantity)} sent (${order.client_order_id})`);
  }
  return parts.join(' · ') || 'done';
}

/** Sends one admin request after asking for the token; shows the answer as a message. */
async function adminRequest(path, title, what, body, opts = {}) {
  const method = opts.method || 'POST';
  const token = await askToken(title, what, opts);
  if (token === null) {
    showAnswer(`${title} (${method} ${path}): cancelled, nothing sent.`, '');
    return null;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  let res;
  try {
    const headers = { authorization: `Bearer ${token}` };
    if (body !== undefined) headers['content-type'] = 'application/json';
    res = await fetch(path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch (e) {
    showAnswer(`${title} (${method} ${path}): network error (${e instanceof Error ? e.message : String(e)})`, 'bad');
    return null;
  }
  const text = await res.text();
  let parsed = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON: shown as sent
  }
  if (res.status === 401 || res.status === 403) sessionStorage.removeItem(TOKEN_KEY);
  const ok = res.ok && !(parsed && parsed.accepted === false);
  showAnswer(
    `${title} (${method} ${path} → ${res.status} ${res.statusText}): ${answerText(parsed)}`,
    ok ? 'ok' : 'bad',
  );
  load();
  return res;
}

function runAction(key) {
  const { path, title, what, danger } = ACTIONS[key];
  const opts = danger ? { danger: true, list: closingList(), confirm: 'Close everything and halt' } : {};
  return adminRequest(path, title, what, undefined, opts);
}

function closePosition(p) {
  return adminRequest(
    `/positions/${encodeURIComponent(p.symbol)}/close`,
    `Close ${p.symbol}`,
    `Close ${p.symbol}: a reduce-only market order, filled at the next bar.`,
    undefined,
    {
      list: [`${p.symbol} ${p.side} ${qty(p.quantity)} — unrealised ${signed(p.unrealizedPnl)} USDT`],
      confirm: 'Close it',
    },
  );
}

/** Cancel one working order (DELETE /orders/:clientOrderId) after a confirmation naming it. */
function cancelOrder(o) {
  return adminRequest(
    `/orders/${encodeURIComponent(o.clientOrderId)}`,
    `Cancel order ${o.clientOrderId}`,
    `Cancel this ${o.reason} order: the venue withdraws it before it can fill.`,
    undefined,
    {
      method: 'DELETE',
      list: [`${o.symbol} ${o.type} ${o.side} ${qty(o.quantity)} (${o.reason}) — ${o.clientOrderId}`],
      confirm: 'Cancel the order',
    },
  );
}

function renderForceForm(view) {
  const select = $('force-symbol');
  const symbols = (view.config && view.config.symbols) || view.prices.map((p) => p.symbol);
  if (select.options.length === symbols.length) return;
  select.replaceChildren(...symbols.map((sym) => el('option', { value: sym, text: sym })));
}

$('force-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  const body = {
    symbol: $('force-symbol').value,
    action: $('force-action').value,
    confidence: Number($('force-confidence').value),
    reason: $('force-reason').value.trim() || 'operator decision',
  };
  void adminRequest(
    '/inference/decisions',
    'Force a decision',
    `${ACTION_TEXT[body.action]} ${body.symbol} at confidence ${pct(body.confidence, 0)}: it goes through allocation, sizing and risk.`,
    body,
  );
});

$('btn-start').addEventListener('click', () => runAction('start'));
$('btn-stop').addEventListener('click', () => runAction('stop'));
$('btn-emergency').addEventListener('click', () => runAction('emergency'));
$('trades-prev').addEventListener('click', () => void showTradesPage(state.tradesPage - 1));
$('trades-next').addEventListener('click', () => void showTradesPage(state.tradesPage + 1));
for (const b of document.querySelectorAll('#profit-period button')) {
  b.addEventListener('click', () => {
    state.profitPeriod = b.dataset.period;
    for (const x of document.querySelectorAll('#profit-period button'))
      x.setAttribute('aria-selected', String(x === b));
    if (state.view) renderProfitBars(state.view.performance);
  });
}
renderFeedFilter();

load().then(connect);
