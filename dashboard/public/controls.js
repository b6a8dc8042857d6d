/* global fetch, sessionStorage */
/** The operator controls: the admin-token dialog, admin requests and their answers in words. */
import { $, TOKEN_KEY, el, price, qty, signed, state } from './state.js';
import { load } from './feed.js';

export const ACTIONS = {
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
export function closingList(fresh) {
  const positions = fresh || (state.view && state.view.positions) || [];
  if (!positions.length) return ['No open position: the bot halts, nothing is closed.'];
  return positions.map(
    (p) =>
      `${p.symbol} ${p.side} ${qty(p.quantity)} @ ${price(p.entryPrice)} — unrealised ${signed(p.unrealizedPnl)} USDT`,
  );
}

export function askToken(title, what, opts = {}) {
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

export function showAnswer(text, level) {
  const a = $('answer');
  a.hidden = false;
  a.textContent = text;
  a.className = `answer ${level || ''}`;
}

/** An answer body in words: its message, note or reason, and what it did. */
export function answerText(body) {
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
export async function adminRequest(path, title, what, body, opts = {}) {
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

/** The open positions now (the page's view can be a second old on a busy replay); null if unreachable. */
async function positionsNow() {
  try {
    const res = await fetch('/dashboard', { headers: { accept: 'application/json' } });
    return res.ok ? (await res.json()).positions : null;
  } catch {
    return null;
  }
}

export async function runAction(key) {
  const { path, title, what, danger } = ACTIONS[key];
  const opts = danger
    ? { danger: true, list: closingList(await positionsNow()), confirm: 'Close everything and halt' }
    : {};
  return adminRequest(path, title, what, undefined, opts);
}

export function closePosition(p) {
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
export function cancelOrder(o) {
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

export function renderForceForm(view) {
  const select = $('force-symbol');
  const symbols = (view.config && view.config.symbols) || view.prices.map((p) => p.symbol);
  if (select.options.length === symbols.length) return;
  select.replaceChildren(...symbols.map((sym) => el('option', { value: sym, text: sym })));
}
