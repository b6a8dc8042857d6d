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
};

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
function when(ms) {
  if (!isNum(ms)) return '—';
  return new Date(ms).toISOString().slice(5, 19).replace('T', ' ');
}
const sec = (ms) => Math.floor(ms / 1000);
const ACTION_TEXT = { 'enter-long': 'Go long', 'enter-short': 'Go short', exit: 'Exit' };
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
  state.charts = { eqChart, equity, ddChart, drawdown, priceChart, candles, markers };
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
  const bars = [];
  for (const k of sel.candles) {
    const t = sec(k.time);
    if (bars.length && t <= bars[bars.length - 1].time) continue;
    bars.push({ time: t, open: k.open, high: k.high, low: k.low, close: k.close });
  }
  c.candles.setData(bars);
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
        td(qty(p.quantity), 'num'),
        td(price(p.entryPrice), 'num'),
        td(price(p.markPrice), 'num'),
        td(signed(p.unrealizedPnl), `num ${sign(p.unrealizedPnl)}`),
        td(p.stopPrice === null ? 'none' : price(p.stopPrice), 'num'),
        td(p.takeProfitPrice === null ? 'none' : price(p.takeProfitPrice), 'num'),
        td(p.reason || '—', 'wrap why-col'),
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

function renderTrades(trades) {
  renderTradeCard(trades);
  fillTable(
    'trades-body',
    'trades-empty',
    trades
      .slice(0, 100)
      .map((t) =>
        el(
          'tr',
          {},
          td(when(t.time)),
          td(t.symbol),
          td(t.side, t.side === 'LONG' ? 'pos' : 'neg'),
          td(qty(t.quantity), 'num'),
          td(price(t.entryPrice), 'num'),
          td(price(t.exitPrice), 'num'),
          td(signed(t.netPnl), `num ${sign(t.netPnl)}`),
          td(pct(t.returnPct), `num ${sign(t.returnPct)}`),
          td(t.exitReason),
        ),
      ),
  );
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

function renderAgents(agents) {
  $('agents-empty').hidden = agents.length > 0;
  $('agents-body').replaceChildren(
    ...agents.map((a) =>
      el(
        'tr',
        {},
        td(a.name),
        el(
          'td',
          {},
          el('span', {
            class: `pill ${/^(ok|ready|active|enabled)$/i.test(a.status) ? 'ok' : /error|fail|down/i.test(a.status) ? 'bad' : 'warn'}`,
            text: a.status,
          }),
        ),
        td(isNum(a.winRate) ? pct(a.winRate, 0) : '—', 'num'),
        el('td', {}, gateList(a.lastGates)),
        td(a.lastThesis || '—', 'wrap'),
      ),
    ),
  );
}

function renderRisk(risk) {
  const level = risk.state === 'ACTIVE' ? 'ok' : risk.state === 'REDUCING' ? 'warn' : 'bad';
  setPill('risk-state', `risk ${risk.state}`, level);
  $('risk-state-text').textContent = risk.state;
  $('risk-state-text').className = level === 'ok' ? 'pos' : level === 'bad' ? 'neg' : '';
  $('risk-explain').textContent = RISK_TEXT[risk.state] || '';
  fillTable(
    'denials-body',
    'denials-empty',
    risk.recentDenials.map((d) =>
      el('tr', {}, td(when(d.time)), td(d.symbol), td(d.stage), td(d.rule), td(d.detail, 'wrap')),
    ),
  );
}

function renderSystem(s) {
  setPill('mode', s.mode, s.mode === 'live' ? 'bad' : 'ok');
  setPill('running', s.running ? 'running' : 'stopped', s.running ? 'ok' : 'bad');
  const rows = [
    ['Engine', s.running ? 'running' : 'stopped'],
    ['Mode', s.mode],
    ['Exchange', s.exchange],
    ['Redis', s.redis],
    ...(s.models || []).map((m) => [`Model ${m.name}`, m.status]),
  ];
  if (!(s.models || []).length) rows.push(['Models', 'none configured']);
  if (state.view && isNum(state.view.time)) rows.push(['Snapshot', `${when(state.view.time)} UTC`]);
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
    parts.push(
      el('p', {
        class: 'headline',
        text: `${ACTION_TEXT[d.action] || d.action} ${d.symbol} @ ${price(d.price)} — confidence ${pct(d.confidence, 0)}`,
      }),
      el('p', { class: 'muted', text: `${when(d.time)} UTC · signal source ${d.source}` }),
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
  renderWhy();
  document.body.dataset.loaded = '1';
}

// ---------- feed ----------
function addFeed(kind, time, text) {
  const list = $('feed-list');
  list.prepend(
    el(
      'li',
      { 'data-kind': kind },
      el('time', { text: when(time) }),
      el('span', { class: `tag ${kind}`, text: kind }),
      el('span', { text }),
    ),
  );
  while (list.children.length > FEED_MAX) list.lastElementChild.remove();
}

function seedFeed(view) {
  if ($('feed-list').children.length) return;
  const items = [
    ...view.trades.slice(0, 20).map((t) => ({ kind: 'trade', time: t.time, text: tradeText(t) })),
    ...view.risk.recentDenials.slice(0, 20).map((d) => ({ kind: 'risk', time: d.time, text: denialText(d) })),
  ].sort((a, b) => a.time - b.time);
  for (const i of items) addFeed(i.kind, i.time, i.text);
}

const tradeText = (t) =>
  `${t.symbol} ${t.side} closed (${t.exitReason}): ${signed(t.netPnl)} USDT, ${pct(t.returnPct)}`;
const denialText = (d) => `${d.symbol} denied by ${d.stage}/${d.rule}: ${d.detail}`;

const HANDLERS = {
  decision(d) {
    state.lastDecision = d;
    state.outcome = null;
    state.reasoning = state.reasoning.filter((r) => r.time >= d.time);
    const gates = (d.gates || []).map((g) => `${g.gate} ${g.passed ? '✓' : '✗'}`).join(', ');
    addFeed(
      'decision',
      d.time,
      `${d.symbol} ${ACTION_TEXT[d.action] || d.action} @ ${price(d.price)} (conf ${pct(d.confidence, 0)})${gates ? ` — ${gates}` : ''}`,
    );
    renderWhy();
  },
  reasoning(r) {
    if (!r.text) return;
    const seen = state.reasoning.some(
      (x) => x.time === r.time && x.symbol === r.symbol && x.agent === r.agent && x.text === r.text,
    );
    if (seen) return; // a repeat (e.g. replayed after a reconnect)
    state.reasoning.push(r);
    if (state.reasoning.length > 50) state.reasoning.shift();
    addFeed('reasoning', r.time, `${r.symbol} ${r.agent}: ${r.text}`);
    renderWhy();
  },
  fill(f) {
    const d = state.lastDecision;
    if (d && !state.outcome && f.symbol === d.symbol && f.time >= d.time) {
      state.outcome = { level: 'pos', text: `Filled: ${f.side} ${qty(f.quantity)} @ ${price(f.price)} (${f.reason})` };
      renderWhy();
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
      renderTrades(state.view.trades);
      if (!state.lastDecision) renderWhy();
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
    renderPortfolio(state.view.portfolio, state.view.equityCurve);
    appendEquity(p.time, p.equity);
    if (Array.isArray(p.positions)) renderPositions(p.positions);
  },
  risk(r) {
    if (!state.view) return;
    state.view.risk.state = r.state;
    if (r.denial) {
      const d = state.lastDecision;
      if (d && r.denial.symbol === d.symbol && r.denial.time === d.time) {
        state.outcome = { level: 'neg', text: `Denied by ${r.denial.stage} (${r.denial.rule}): ${r.denial.detail}` };
        renderWhy();
      }
      state.view.risk.recentDenials.unshift(r.denial);
      state.view.risk.recentDenials.length = Math.min(state.view.risk.recentDenials.length, 20);
      addFeed('risk', r.time, denialText(r.denial));
    } else {
      addFeed('risk', r.time, `risk state ${r.state}${r.reason ? `: ${r.reason}` : ''}`);
    }
    renderRisk(state.view.risk);
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
  },
};

function askToken(title, what) {
  const dialog = $('token-dialog');
  const input = $('token-input');
  $('token-title').textContent = `${title}: admin token`;
  $('token-what').textContent = what;
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

async function runAction(key) {
  const { path, title, what } = ACTIONS[key];
  const token = await askToken(title, what);
  if (token === null) {
    showAnswer(`POST ${path}: cancelled, nothing sent.`, '');
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, token);
  let res;
  try {
    res = await fetch(path, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
  } catch (e) {
    showAnswer(`POST ${path}: network error (${e instanceof Error ? e.message : String(e)})`, 'bad');
    return;
  }
  const text = await res.text();
  let body = text;
  try {
    body = JSON.stringify(JSON.parse(text), null, 1);
  } catch {
    // not JSON: shown as sent
  }
  if (res.status === 401 || res.status === 403) sessionStorage.removeItem(TOKEN_KEY);
  showAnswer(`POST ${path} → ${res.status} ${res.statusText}\n${body}`, res.ok ? 'ok' : 'bad');
  if (res.ok) load();
}

$('btn-start').addEventListener('click', () => runAction('start'));
$('btn-stop').addEventListener('click', () => runAction('stop'));
$('btn-emergency').addEventListener('click', () => runAction('emergency'));

load().then(connect);
