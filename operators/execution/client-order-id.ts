import { createHash } from 'node:crypto';

const MAX_LEN = 36;
const ALLOWED = /^[.A-Z:/a-z0-9_-]{1,36}$/;

/**
 * Decision sequence for a bar: the minute index of its time in base 36. It is derived from the
 * data, not a counter, so a restarted bot recomputes the same id for the same decision and the
 * exchange refuses the duplicate instead of filling it twice.
 */
export function decisionSeq(time: number): number {
  return Math.floor(time / 60_000);
}

/**
 * `{BOT_ID}-{symbol}-{seq}{tag}` within the exchange's 36 characters and alphabet. Tags tell the
 * orders of one decision apart: `e` entry/exit, `d` delever, `h` halt-flatten, `s<k>` stop
 * generation k, `t<k>` take-profit. A symbol too long to fit is replaced by a short hash.
 */
export function clientOrderId(botId: string, symbol: string, seq: number, tag: string): string {
  const tail = `${seq.toString(36)}${tag}`;
  let id = `${botId}-${symbol}-${tail}`;
  if (id.length > MAX_LEN) {
    const short = createHash('sha1').update(symbol).digest('hex').slice(0, 8);
    id = `${botId}-${short}-${tail}`;
  }
  if (!ALLOWED.test(id)) throw new Error(`client order id ${JSON.stringify(id)} breaks the exchange's format`);
  return id;
}
