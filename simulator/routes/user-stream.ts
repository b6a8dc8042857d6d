import type { SimContext } from '../context.ts';
import { bad } from '../api-error.ts';
import type { RouteTable, Security } from './route.ts';

/** V1 listen-key calls carry only the API key; V3 ones are signed like any other call. */
const listenKeySecurity = (version: number): Security => (version === 3 ? 'SIGNED' : 'KEY');

/** The user-data stream's listen key: create (or extend), keep alive, close. */
export function userStreamRoutes(sim: SimContext): RouteTable {
  return {
    'POST listenKey': {
      security: listenKeySecurity,
      handle: (ctx) => ({ body: { listenKey: sim.hub.createListenKey(ctx.account) } }),
    },
    'PUT listenKey': {
      security: listenKeySecurity,
      handle: (ctx) => {
        if (!sim.hub.keepAlive(ctx.account)) throw bad(-1125, 'This listenKey does not exist.');
        return { body: {} };
      },
    },
    'DELETE listenKey': {
      security: listenKeySecurity,
      handle: (ctx) => {
        sim.hub.closeListenKey(ctx.account);
        return { body: {} };
      },
    },
  };
}
