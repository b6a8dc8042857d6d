/* global document, fetch, EventSource, setTimeout */
/** The live feed: GET /dashboard on load, the server-sent events of GET /events and the feed list. */
import { setupConsent } from './consent.js';
import { $, ACTION_TEXT, FEED_MAX, el, money, pct, price, qty, signed, state, when } from './state.js';
import { appendEquity } from './charts.js';
import { redraw, render, renderSystem, renderWhy, soon } from './panels.js';

/** How far back a repeat is looked for: one bar's rows for a few symbols. */
export const COLLAPSE_WINDOW = 12;
export const FEED_KINDS = ['all', 'decision', 'reasoning', 'fill', 'trade', 'risk', 'status'];

/**
 * Adds a feed row. A row with a `key` that repeats one of the last few rows (the same denial of
 * the same symbol, bar after bar) replaces it, with a count and the time span, so the feed is not
 * a wall of identical lines.
 */
export function addFeed(kind, time, text, key, cls) {
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

export function renderFeedFilter() {
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

export function seedFeed(view) {
  if ($('feed-list').children.length) return;
  const items = [
    ...view.trades.slice(0, 20).map((t) => ({ kind: 'trade', time: t.time, text: tradeText(t) })),
    ...view.risk.recentDenials
      .slice(0, 20)
      .map((d) => ({ kind: 'risk', time: d.time, text: denialText(d), key: denialKey(d) })),
  ].sort((a, b) => a.time - b.time);
  for (const i of items) addFeed(i.kind, i.time, i.text, i.key);
}

export const tradeText = (t) =>
  `${t.symbol} ${t.side} closed (${t.exitReason}): ${signed(t.netPnl)} USDT, ${pct(t.returnPct)}`;
export const denialText = (d) => `${d.symbol} denied by ${d.stage}/${d.rule}: ${d.detail}`;
export const denialKey = (d) => `risk|${d.symbol}|${d.stage}|${d.rule}`;

export const HANDLERS = {
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
    // a working order ended without a fill; an operator's cancel reloads the view at once so the
    // order leaves the table (a venue's refusal waits for the next reload: they can come every bar)
    addFeed(
      'fill',
      o.time,
      `${o.symbol} order ${o.clientOrderId} ${o.outcome === 'cancelled' ? 'cancelled' : 'rejected'}: ${o.reason}`,
    );
    if (o.outcome === 'cancelled') scheduleReload();
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

export function scheduleReload() {
  if (state.reloadTimer) return;
  state.reloadTimer = setTimeout(() => {
    state.reloadTimer = null;
    load();
  }, 1500);
}

export function connect() {
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

export async function load() {
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
