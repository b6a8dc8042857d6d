import type { Observable } from 'rxjs';
import type { Bar, BarColumns, SymbolFilters } from '../../pipelines/model/index.ts';
import type { ExecutionPort } from '../../pipelines/ports.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { featureParams } from '../../operators/features/features.ts';
import type { EngineOptions } from '../engine/trading-engine.ts';

/** Where live bars come from: the stream starts with enough history to warm the features. */
export interface MarketSource {
  symbols: string[];
  filters?: ReadonlyMap<string, SymbolFilters>;
  /** bars closing at or before this time were history when the source opened (fed halted) */
  historyUntil: number;
  /** configured symbols the exchange does not list (left out) */
  unknownSymbols?: string[];
  bars: Observable<Bar>;
  /** the live execution port (real orders); paper mode uses the simulated venue instead */
  execution(): ExecutionPort;
  /** live mode: how the engine reconciles a replayed journal with the exchange */
  venue?: EngineOptions['venue'];
  status(): string;
  close(): Promise<void>;
}

/** Bars the features need before they answer (see features.kernel: nothing before warm). */
export function warmupBars(settings: Settings): number {
  const p = featureParams(settings);
  return Math.max(p.atrPeriod + 1, p.lookbackBars + 1, p.barsPerDay + 1, p.volatilityWindow + 1) + 1;
}

/** Something the exchange connection could not settle by itself: an operator should know. */
export interface ExchangeIssue {
  /** where it arose: the execution port (orders, fills, funding) or one of the two streams */
  readonly source: 'execution' | 'user-stream' | 'market-stream';
  readonly kind: string;
  readonly detail: string;
}

export interface AsterSourceHooks {
  onRequest?: (info: { path: string; status: number; latencyMs: number }) => void;
  /** orders of unknown outcome, failed cancels, foreign fills, unattributed funding, stream errors */
  onIssue?: (issue: ExchangeIssue) => void;
}

/** What the service asks of the embedded exchange it trades on when ASTER_REST_URL is empty. */
export interface EmbeddedExchangeOptions {
  series: BarColumns[];
  host: string;
  port: number;
  replayMs: number;
  startIndex: number;
  initialBalance: number;
}

export interface EmbeddedExchange {
  readonly restUrl: string;
  readonly wsUrl: string;
  close(): Promise<void>;
}

/**
 * The port through which the composition root (`bin/commands/serve.ts`, tests, soak runs) hands
 * the service the exchange simulator: `live/` does not import `simulator/` (layer rules).
 */
export type StartEmbeddedExchange = (options: EmbeddedExchangeOptions) => Promise<EmbeddedExchange>;
