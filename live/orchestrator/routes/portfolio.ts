import type { FastifyPluginAsync } from 'fastify';
import type { ClockPort } from '../../../pipelines/ports.ts';
import { drawdownOf } from '../guardrails.ts';
import type { OrchestratorState } from '../orchestrator-state.ts';
import { DecisionRecordSchema, errorCode, parse } from '../orchestrator-schemas.ts';
import { walletEquity, type VenueBalance, type VenuePosition, type WalletVenue } from '../wallet-venue.ts';

interface WalletRead {
  readonly balance: VenueBalance;
  readonly positions: VenuePosition[];
}

/**
 * The wallet as GET /portfolio shows it, read from the exchange at most once per `maxAgeMs`
 * (concurrent readers share one read; a failed read is not kept): the request rate of the page
 * never becomes the exchange request weight the bots' orders need. `invalidate` after the
 * orchestrator itself changed the wallet.
 */
export class WalletReads {
  #last: { at: number; read: Promise<WalletRead> } | undefined;
  constructor(
    private readonly venue: WalletVenue,
    private readonly clock: ClockPort,
    private readonly maxAgeMs: number,
  ) {}

  read(): Promise<WalletRead> {
    const now = this.clock.now();
    if (this.#last !== undefined && now - this.#last.at < this.maxAgeMs) return this.#last.read;
    const read = Promise.all([this.venue.balance(), this.venue.positions()]).then(([balance, positions]) => ({
      balance,
      positions: positions.filter((p) => p.positionAmt !== 0),
    }));
    const entry = { at: now, read };
    this.#last = entry;
    read.catch(() => {
      if (this.#last === entry) this.#last = undefined;
    });
    return read;
  }

  invalidate(): void {
    this.#last = undefined;
  }
}

export interface PortfolioRouteOptions {
  readonly state: OrchestratorState;
  readonly wallet: WalletReads;
  readonly clock: ClockPort;
}

/** Per-bot exposure in units and USD at the wallet's marks. */
function botsView(state: OrchestratorState, positions: VenuePosition[]) {
  const marks = new Map(positions.map((p) => [p.symbol, p.markPrice]));
  const bots: Record<string, { positions: Record<string, number>; exposureUsd: number }> = {};
  for (const [botId, m] of state.exposure) {
    let usd = 0;
    const pos: Record<string, number> = {};
    for (const [symbol, qty] of m) {
      pos[symbol] = qty;
      usd += Math.abs(qty * (marks.get(symbol) ?? 0));
    }
    bots[botId] = { positions: pos, exposureUsd: usd };
  }
  return bots;
}

/** The wallet and the bots' records (admin scope): GET /portfolio, POST /register_decision. */
export const portfolioRoutes: FastifyPluginAsync<PortfolioRouteOptions> = async (app, { state, wallet, clock }) => {
  app.get('/portfolio', async (_req, reply) => {
    let read: WalletRead;
    try {
      read = await wallet.read();
    } catch (e) {
      return reply
        .code(502)
        .send({ error: errorCode(e), halted: state.halt !== undefined, halt_reason: state.halt ?? null });
    }
    const { balance, positions } = read;
    const equity = walletEquity(balance);
    state.notePeak(equity);
    const gross = positions.reduce((a, p) => a + Math.abs(p.positionAmt * p.markPrice), 0);
    return {
      time: clock.now(),
      asset: balance.asset,
      walletBalance: balance.walletBalance,
      availableBalance: balance.availableBalance,
      unrealizedPnl: balance.unrealizedPnl,
      equity,
      peakEquity: state.peakEquity,
      drawdown: drawdownOf(equity, state.peakEquity),
      grossExposureUsd: gross,
      leverage: equity > 0 ? gross / equity : 0,
      positions,
      bots: botsView(state, positions),
      halted: state.halt !== undefined,
      halt_reason: state.halt ?? null,
      recentDecisions: state.decisions.slice(-20),
    };
  });

  app.post('/register_decision', async (req) => {
    const decisionId = state.registerDecision(parse(DecisionRecordSchema, req.body));
    return { status: 'recorded', decisionId };
  });
};
