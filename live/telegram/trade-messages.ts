import type { Decision, Fill, ProtectIntent } from '../../pipelines/model/index.ts';

/** How far a number is printed: enough significant digits for prices and sizes of any symbol. */
export function fmt(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const a = Math.abs(n);
  const digits = a >= 1000 ? 2 : a >= 1 ? 4 : 8;
  return Number(n.toFixed(digits)).toString();
}

/** The thesis behind a decision: the accepted agents' summaries, else the signal that made it. */
export function thesisOf(d: Decision | undefined): string | undefined {
  if (d === undefined) return undefined;
  const views = d.opinions.filter((o) => o.accepted && o.summary.trim() !== '');
  if (views.length > 0) return views.map((o) => `${o.agent}: ${o.summary.trim()}`).join(' | ');
  return `${d.source} signal, confidence ${fmt(d.confidence)}`;
}

/** reward / risk of a position entered at `entry` with this stop and take-profit (undefined if unknown). */
export function rewardToRisk(entry: number, p: ProtectIntent | undefined): number | undefined {
  if (p === undefined || !(p.takeProfitPrice > 0) || !(p.stopPrice > 0)) return undefined;
  const risk = Math.abs(entry - p.stopPrice);
  const reward = Math.abs(p.takeProfitPrice - entry);
  return risk > 0 ? reward / risk : undefined;
}

export function openMessage(f: Fill, decision: Decision | undefined, protect: ProtectIntent | undefined): string {
  const side = f.side === 'BUY' ? 'LONG' : 'SHORT';
  const lines = [`OPEN ${side} ${f.symbol}`, `${f.side} ${fmt(f.quantity)} @ ${fmt(f.price)}`];
  const rr = rewardToRisk(f.price, protect);
  if (protect !== undefined) {
    const tp = protect.takeProfitPrice > 0 ? ` | take-profit ${fmt(protect.takeProfitPrice)}` : '';
    lines.push(`stop ${fmt(protect.stopPrice)}${tp}${rr !== undefined ? ` | R:R ${rr.toFixed(2)}` : ''}`);
  }
  const thesis = thesisOf(decision);
  if (thesis !== undefined) lines.push(`thesis: ${thesis.length > 600 ? `${thesis.slice(0, 597)}...` : thesis}`);
  return lines.join('\n');
}

export function closeMessage(f: Fill, held: { side: 1 | -1; entry: number; qty?: number } | undefined): string {
  const side = held !== undefined ? (held.side === 1 ? 'LONG' : 'SHORT') : f.side === 'SELL' ? 'LONG' : 'SHORT';
  const partial = held?.qty !== undefined && f.quantity < held.qty - 1e-12;
  const lines = [
    `${partial ? 'REDUCE' : 'CLOSE'} ${side} ${f.symbol} (${f.reason})`,
    `${f.side} ${fmt(f.quantity)} @ ${fmt(f.price)}`,
  ];
  if (held !== undefined && held.entry > 0) {
    const pnl = (f.price - held.entry) * f.quantity * held.side;
    const pct = ((f.price - held.entry) / held.entry) * held.side * 100;
    lines.push(
      `entry ${fmt(held.entry)} | PnL ${pnl >= 0 ? '+' : ''}${fmt(pnl)} (${pct >= 0 ? '+' : ''}${pct.toFixed(2)}%)`,
    );
  }
  return lines.join('\n');
}
