/* global document */
/** Shared by every part of the page: the page state, constants, number and time formatting, DOM helpers. */

export const TOKEN_KEY = 'sapphire.adminToken';
export const FEED_MAX = 200;
export const COLORS = { pos: '#26a69a', neg: '#ef5350', warn: '#f7b84f', accent: '#4f8ff7', muted: '#8899aa' };

export const state = {
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
export const TRADES_PAGE = 25;

// ---------- formatting ----------
export const isNum = (v) => typeof v === 'number' && Number.isFinite(v);
export function fmt(v, digits = 2) {
  if (!isNum(v)) return '—';
  return v.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}
export const money = (v) => fmt(v, 2);
export function price(v) {
  if (!isNum(v)) return '—';
  const a = Math.abs(v);
  return fmt(v, a >= 1000 ? 2 : a >= 1 ? 4 : 6);
}
export function qty(v) {
  if (!isNum(v)) return '—';
  return v.toLocaleString('en-US', { maximumFractionDigits: 6 });
}
export const pct = (fraction, digits = 2) => (isNum(fraction) ? `${fmt(fraction * 100, digits)} %` : '—');
export const signed = (v, f = money) => (isNum(v) && v > 0 ? `+${f(v)}` : f(v));
export const sign = (v) => (!isNum(v) || v === 0 ? '' : v > 0 ? 'pos' : 'neg');
/** Market time (bars, trades, decisions): always with its year, always UTC. */
export function when(ms) {
  if (!isNum(ms)) return '—';
  return new Date(ms).toISOString().slice(0, 19).replace('T', ' ');
}
/** Wall-clock time (operator actions, uptime): labelled so it is never read as market time. */
export const wall = (ms) => (isNum(ms) ? `${when(ms)} UTC (wall)` : '—');
export const sec = (ms) => Math.floor(ms / 1000);
export const ACTION_TEXT = { 'enter-long': 'Go long', 'enter-short': 'Go short', exit: 'Exit' };
export const ACTION_DENIED_TEXT = { 'enter-long': 'long', 'enter-short': 'short', exit: 'exit' };
export const RISK_TEXT = {
  ACTIVE: 'trading normally',
  REDUCING: 'position sizes reduced (losses or drawdown)',
  HALTED: 'no new entries, exits only (drawdown limit or operator)',
};

// ---------- DOM helpers ----------
export const $ = (id) => document.getElementById(id);
export function el(tag, props = {}, ...children) {
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
export const td = (text, cls) => el('td', { class: cls, text: String(text) });
export function fillTable(bodyId, emptyId, rows) {
  $(bodyId).replaceChildren(...rows);
  if (emptyId) $(emptyId).hidden = rows.length > 0;
}
export function setPill(id, text, level) {
  const p = $(id);
  p.textContent = text;
  p.className = `pill ${level || ''}`;
}
