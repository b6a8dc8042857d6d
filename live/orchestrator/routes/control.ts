import type { FastifyPluginAsync } from 'fastify';
import type { ClockPort } from '../../../pipelines/ports.ts';
import type { OrchestratorState } from '../orchestrator-state.ts';
import { errorCode } from '../orchestrator-schemas.ts';
import type { VenuePosition, WalletVenue } from '../wallet-venue.ts';

export interface ControlRouteOptions {
  readonly state: OrchestratorState;
  readonly venue: WalletVenue;
  readonly clock: ClockPort;
}

type Flattened = { symbol: string; side: 'BUY' | 'SELL'; quantity: number; clientOrderId: string };

/** Every position closed with a reduce-only MARKET order; failures listed in `errors`. */
async function flattenAll(venue: WalletVenue, positions: VenuePosition[], stamp: string, errors: string[]) {
  const flattened: Flattened[] = [];
  await Promise.all(
    positions.map((p) => {
      const side = p.positionAmt > 0 ? 'SELL' : 'BUY';
      const quantity = Math.abs(p.positionAmt);
      const clientOrderId = `estop-${stamp}-${p.symbol}`.slice(0, 36);
      return venue
        .placeOrder({
          symbol: p.symbol,
          side,
          type: 'MARKET',
          quantity,
          reduceOnly: true,
          newClientOrderId: clientOrderId,
        })
        .then(
          () => void flattened.push({ symbol: p.symbol, side, quantity, clientOrderId }),
          (e: unknown) => void errors.push(`flatten ${p.symbol}: ${errorCode(e)}`),
        );
    }),
  );
  return flattened.sort((a, b) => a.symbol.localeCompare(b.symbol));
}

/**
 * Wallet controls (admin scope). Emergency stop halts first (every order from then on is
 * refused), cancels every open order, flattens every position; 502 when any step failed.
 */
export const controlRoutes: FastifyPluginAsync<ControlRouteOptions> = async (app, { state, venue, clock }) => {
  app.post('/emergency_stop', async (_req, reply) => {
    if (state.halt !== 'emergency_stop') state.record({ t: 'halt', time: clock.now(), reason: 'emergency_stop' });
    const errors: string[] = [];
    const cancelled: string[] = [];
    let positions: VenuePosition[] = [];
    let positionsKnown = true;
    try {
      positions = (await venue.positions()).filter((p) => p.positionAmt !== 0);
    } catch (e) {
      positionsKnown = false;
      errors.push(`positions: ${errorCode(e)}`);
    }
    let symbols: string[];
    try {
      symbols = [...new Set((await venue.openOrders()).map((o) => o.symbol))];
    } catch (e) {
      errors.push(`openOrders: ${errorCode(e)}`);
      symbols = positions.map((p) => p.symbol); // at least clear the protective orders of open positions
    }
    await Promise.all(
      symbols.map((s) =>
        venue.cancelAll(s).then(
          () => void cancelled.push(s),
          (e: unknown) => void errors.push(`cancelAll ${s}: ${errorCode(e)}`),
        ),
      ),
    );
    const flattened = await flattenAll(venue, positions, clock.now().toString(36), errors);
    state.exposure.clear();
    const complete = errors.length === 0 && positionsKnown;
    return reply
      .code(complete ? 200 : 502)
      .send({ status: 'halted', complete, cancelled: cancelled.sort(), flattened, errors });
  });

  app.post('/resume', async () => {
    if (state.halt !== undefined) state.record({ t: 'resume', time: clock.now() });
    return { status: 'active' };
  });
};
