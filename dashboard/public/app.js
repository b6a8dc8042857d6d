/* global document */
/**
 * The Sapphire dashboard page: plain ES module, no build step (served as-is by dashboard/plugin.ts).
 *
 * Data: one GET /dashboard (a DashboardView, see dashboard/dashboard-view.ts) on load, then the
 * server-sent events of GET /events keep the page current; trades, fills and status events
 * trigger a (throttled) reload of the view for the price markers. Everything from the server
 * is written with textContent, never as HTML.
 *
 * This entry wires the page's buttons and starts it; the rest is split by concern: state.js (page
 * state, formatting, DOM helpers), charts.js, panels.js (the view's panels and batched redraws),
 * feed.js (loading the view, the server-sent events, the feed list) and controls.js (admin-token
 * dialog and operator requests).
 */
import { $, ACTION_TEXT, pct, state } from './state.js';
import { renderProfitBars } from './charts.js';
import { showTradesPage } from './panels.js';
import { connect, load, renderFeedFilter } from './feed.js';
import { adminRequest, runAction } from './controls.js';

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
