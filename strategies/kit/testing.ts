import { fileURLToPath } from 'node:url';
import { firstValueFrom, from, lastValueFrom, Subject, toArray } from 'rxjs';
import type { BarColumns, FundingRate, PipelineEvent, Signal } from '../../pipelines/model/index.ts';
import { buildPipeline } from '../../pipelines/build-pipeline.ts';
import { parseSettings, SETTING_NAMES, type Settings } from '../../pipelines/settings.ts';
import { loadDataset, mergeBars } from '../../backtests/data/index.ts';
import { loadFundingFile } from '../../backtests/data/funding-files.ts';
import { simulatedVenue } from '../../backtests/simulated-venue.ts';
import { filtersFor } from '../../pipelines/instruments.ts';
import { strategySignals } from '../../operators/signals/strategy-signals.ts';
import { checkStrategy } from '../registry.ts';
import type { LoadedStrategy, Strategy } from './contract.ts';

const SAMPLE = fileURLToPath(new URL('../../data/sample/', import.meta.url));

export interface ContractReport {
  /** every broken rule, in words; empty = the strategy keeps the contract */
  problems: string[];
  /** signals the strategy gave over the sample */
  signals: number;
}

export interface ContractOptions {
  /** settings for the strategy (its own keys) and the platform; defaults otherwise */
  settings?: Record<string, unknown>;
  /** bars per symbol from the shipped real sample (BTC and ETH perpetuals, 5m); default 4,000 */
  bars?: number;
}

const signalsOf = (events: readonly PipelineEvent[]): Signal[] =>
  events.filter((e): e is Signal => e.kind === 'signal');

/** The shipped real sample: the first `bars` bars of BTCUSDT and ETHUSDT, and its real funding history. */
async function sample(bars: number): Promise<{ series: BarColumns[]; funding: FundingRate[] }> {
  const all = await loadDataset({ dir: `${SAMPLE}perp-5m`, symbols: ['BTCUSDT', 'ETHUSDT'] });
  const series = all.map((c) => ({
    ...c,
    length: Math.min(bars, c.length),
    openTime: c.openTime.subarray(0, bars),
    open: c.open.subarray(0, bars),
    high: c.high.subarray(0, bars),
    low: c.low.subarray(0, bars),
    close: c.close.subarray(0, bars),
    volume: c.volume.subarray(0, bars),
  }));
  return { series, funding: loadFundingFile(`${SAMPLE}funding`) };
}

function runStage(strategies: LoadedStrategy[], s: Settings, input: readonly PipelineEvent[], funding: FundingRate[]) {
  return lastValueFrom(from(input).pipe(strategySignals(strategies, s, { fundingRates: funding }), toArray()));
}

/**
 * The strategy contract, checked on real bars: the file's shape (exports, prefixed settings,
 * search space), defaults that parse, the same output twice without reading the clock, two
 * subscriptions that share nothing, no signal before the declared warm-up, and no look-ahead
 * (signals up to a cut are the same when the input stops at the cut).
 */
export async function checkStrategyContract(candidate: Strategy, o: ContractOptions = {}): Promise<ContractReport> {
  const problems: string[] = [];
  const strategy = checkStrategy(candidate, candidate.name, new Set(SETTING_NAMES));
  const own = strategy.settings.parse(o.settings ?? {}) as Record<string, unknown>;
  const platform: Record<string, unknown> = { SYMBOLS: 'BTCUSDT,ETHUSDT' };
  for (const [k, v] of Object.entries(o.settings ?? {})) if (!(k in own)) platform[k] = v;
  const settings = parseSettings(platform);
  const loaded: LoadedStrategy[] = [{ strategy, settings: own, origin: strategy.name }];
  const { series, funding } = await sample(o.bars ?? 4000);
  const filters = filtersFor(settings.SYMBOLS);
  const full = await firstValueFrom(
    buildPipeline(
      settings,
      { market: { bars: () => mergeBars(series) }, execution: simulatedVenue(settings, { filters }) },
      { filters, strategies: loaded, fundingRates: funding },
    ).pipe(toArray()),
  );
  const input = full.filter((e) => e.kind === 'bar' || e.kind === 'features' || e.kind === 'portfolio');

  const first = await runStage(loaded, settings, input, funding);
  const realNow = Date.now;
  Date.now = () => {
    throw new Error('read the clock');
  };
  try {
    const second = await runStage(loaded, settings, input, funding);
    if (JSON.stringify(second) !== JSON.stringify(first)) problems.push('two runs over the same bars differ');
  } catch (error) {
    problems.push(`the second run failed: ${(error as Error).message} (a strategy must not read the clock)`);
  } finally {
    Date.now = realNow;
  }

  const source = new Subject<PipelineEvent>();
  const op = strategySignals(loaded, settings, { fundingRates: funding });
  const left: PipelineEvent[] = [];
  const right: PipelineEvent[] = [];
  source.pipe(op).subscribe((e) => left.push(e));
  source.pipe(op).subscribe((e) => right.push(e));
  for (const e of input) source.next(e);
  source.complete();
  if (JSON.stringify(left) !== JSON.stringify(first) || JSON.stringify(right) !== JSON.stringify(first))
    problems.push('two subscriptions at once share state (create state inside create(), not at module level)');

  const warmUp = strategy.warmUpBars(own);
  for (const symbol of settings.SYMBOLS) {
    const at = first.findIndex((e) => e.kind === 'signal' && e.symbol === symbol);
    const seen = first.slice(0, Math.max(0, at)).filter((e) => e.kind === 'features' && e.symbol === symbol).length;
    if (at >= 0 && seen <= warmUp)
      problems.push(`${symbol}: a signal after ${seen} bars, before the warm-up of ${warmUp}`);
  }

  const signals = signalsOf(first);
  for (const at of [0.3, 0.6, 0.9]) {
    const cut = input[Math.floor(input.length * at)]!.time;
    const part = signalsOf(
      await runStage(
        loaded,
        settings,
        input.filter((e) => e.time <= cut),
        funding,
      ),
    );
    const expected = signals.filter((s) => s.time <= cut);
    if (JSON.stringify(part) !== JSON.stringify(expected))
      problems.push(`look-ahead: signals up to ${new Date(cut).toISOString()} change when later bars are removed`);
  }
  return { problems, signals: signals.length };
}
