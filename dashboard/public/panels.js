/* global document, fetch, setTimeout */
/** The panels drawn from the view (GET /dashboard), and the batched redraws live events ask for. */
import {
  $,
  ACTION_DENIED_TEXT,
  ACTION_TEXT,
  RISK_TEXT,
  TRADES_PAGE,
  el,
  fillTable,
  fmt,
  isNum,
  money,
  pct,
  price,
  qty,
  setPill,
  sign,
  signed,
  state,
  td,
  wall,
  when,
} from './state.js';
import { initCharts, renderAllocation, renderEquity, renderPrices, renderProfitBars } from './charts.js';
import { cancelOrder, closePosition, renderForceForm, showAnswer } from './controls.js';

export function renderPortfolio(p, curve) {
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

export function renderPositions(positions) {
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
export function renderTradeCard(trades) {
  const recent = trades.slice(0, 100);
  const wins = recent.filter((t) => t.netPnl > 0).length;
  const net = recent.reduce((a, t) => a + (isNum(t.netPnl) ? t.netPnl : 0), 0);
  $('pf-trades').textContent = recent.length ? `${wins} of ${recent.length} won` : 'none yet';
  const sub = $('pf-trades-sub');
  sub.textContent = recent.length ? `net ${signed(net)} USDT` : 'no closed trade';
  sub.className = `s ${sign(net)}`;
}

export const tradeRowEl = (t) =>
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
export function renderTrades(trades) {
  renderTradeCard(trades);
  if (state.tradesPage !== 1) return;
  fillTable('trades-body', 'trades-empty', trades.slice(0, TRADES_PAGE).map(tradeRowEl));
  $('trades-page').textContent = `page 1 · newest ${Math.min(TRADES_PAGE, trades.length)}`;
  $('trades-prev').disabled = true;
  $('trades-next').disabled = trades.length <= TRADES_PAGE;
}

export async function showTradesPage(page) {
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

export function gateList(gates) {
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

export const AGENT_KNOWN = new Set(['name', 'status', 'lastThesis', 'lastGates', 'winRate']);

/** Fields a newer service adds to an agent (availability, last failure …), as "key: value". */
export function agentExtras(a) {
  return Object.entries(a)
    .filter(([k, v]) => !AGENT_KNOWN.has(k) && v !== null && v !== undefined && typeof v !== 'object')
    .map(([k, v]) => `${k.replace(/([A-Z])/g, ' $1').toLowerCase()}: ${isNum(v) && v > 1e11 ? when(v) : String(v)}`);
}

export function renderAgents(agents) {
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

export const LOCK_TEXT = {
  'stoploss-guard': 'stop-loss guard',
  cooldown: 'cooldown',
  'entry-in-flight': 'entry in flight',
  'operator-halt': 'operator halt',
  'drawdown-halt': 'drawdown halt',
};

/** Denials in a row that say the same thing (symbol, stage, rule) become one row with a count. */
export function collapseDenials(denials) {
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

export function renderRisk(risk) {
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

export function renderPerformance(perf) {
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
  // per strategy: the panel below (renderStrategies)
  $('perf-body').replaceChildren(...perf.perSymbol.map((r) => row(r, '')));
  renderStrategies(perf.perStrategy || []);
  renderAllocation(perf.allocationOverTime);
  renderProfitBars(perf);
}

/** Per strategy, when several run: trades, PnL, win rate, capital share and allocation now. */
export function renderStrategies(list) {
  const configured = (state.view && state.view.config && state.view.config.strategies) || [];
  const several = list.length > 1 || configured.length > 1;
  $('strategies').hidden = !several;
  if (!several) return;
  $('strategies-body').replaceChildren(
    ...list.map((r) =>
      el(
        'tr',
        { 'data-strategy': r.symbol },
        td(r.symbol),
        td(signed(r.netPnl), `num ${sign(r.netPnl)}`),
        td(r.trades, 'num'),
        td(pct(r.winRate, 0), 'num'),
        td(isNum(r.profitFactor) ? fmt(r.profitFactor, 2) : '—', 'num'),
        td(pct(r.capitalShare, 0), 'num'),
        td(pct(r.allocation, 0), 'num'),
      ),
    ),
  );
}

/** Why the Cancel button of an order is off (null: it is on). */
export function cancelOff(o) {
  if (state.view && state.view.config && !state.view.config.adminConfigured)
    return 'the service has no ADMIN_API_TOKEN: restart it with one';
  if (o.cancellable === false || o.clientOrderId === null) return o.notCancellable || 'not cancellable';
  return null;
}

export function renderOrders(orders) {
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

export function renderHealth(h) {
  if (!h) return;
  $('health-bar').textContent = h.lastBarTime === null ? 'none yet' : `${when(h.lastBarTime)} UTC`;
  $('health-error-wrap').hidden = !h.lastError;
  $('health-error').textContent = h.lastError || '';
}

export function renderAudit(lines) {
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
export function renderControls(view) {
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

export function uptime(s) {
  if (!isNum(s)) return '—';
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  return `${d ? `${d} d ` : ''}${h} h ${m} min`;
}

export function renderSystem(s) {
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

export function renderReports(reports) {
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

export function tradeLines(t, headline) {
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
export function renderWhy() {
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

export function render(view) {
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
export const pendingRenders = new Set();
export let renderTimer = null;
export function soon(fn) {
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
export const redraw = {
  trades: () => renderTrades(state.view.trades),
  portfolio: () => renderPortfolio(state.view.portfolio, state.view.equityCurve),
  positions: () => {
    renderPositions(state.view.positions);
    renderControls(state.view);
  },
  risk: () => renderRisk(state.view.risk),
};
