import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { recordAgentTape } from '../../agents/record-tape.ts';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { checkLookahead, seededCuts } from '../../backtests/lookahead-check.ts';
import { checkLookaheadParallel } from '../../backtests/lookahead-parallel.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { completion, startModelServer } from './kit/model-server.ts';

const series = [fixtureColumns('BTCUSDT')];
const dir = mkdtempSync(join(tmpdir(), 'sapphire-lookahead-tape-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the look-ahead check with taped agents (AGENT_TAPE replay)', { timeout: 120_000 }, () => {
  it('passes a replayed tape, in this thread and in worker threads, at 20 cuts', async () => {
    // a model peer: the thesis agrees with the proposal, the forecast extrapolates the closes sent
    const srv = await startModelServer((r) => {
      if (r.path === '/forecast') {
        const { closes, horizon } = r.body as { closes: number[]; horizon: number };
        const last = closes[closes.length - 1]!;
        const step = (last / closes[closes.length - 13]! - 1) / 12;
        const pts = Array.from({ length: horizon }, (_, k) => last * (1 + step * (k + 1)));
        const body = { forecast: pts, lower_ci: pts, upper_ci: pts, anomaly_score: 0.05, confidence: 0.8 };
        return { status: 200, body: JSON.stringify(body) };
      }
      const prompt = (r.body as { messages: { content: string }[] }).messages[1]!.content;
      const side = /proposes going long/.test(prompt) ? 'buy' : 'sell';
      const reply = { thesis: `reads as a ${side}`, side, risk_score: 0.4, confidence: 0.8 };
      return { status: 200, body: completion('```json\n' + JSON.stringify(reply) + '\n```') };
    });
    const tape = join(dir, 'tape.jsonl');
    const remote = (mode: 'record' | 'replay') =>
      activeSettings({
        SYMBOLS: 'BTCUSDT',
        AGENTS_ENABLED: true,
        COLLAB_SYMBOLS: '',
        FINGPT_ENDPOINT: srv.url,
        FINGPT_MODEL: 'test-model',
        LAGLLAMA_ENDPOINT: `${srv.url}/forecast`,
        AGENT_TAPE: tape,
        AGENT_TAPE_MODE: mode,
        MAX_PARALLEL_AGENTS: 8,
      });
    try {
      const rec = await recordAgentTape(remote('record'), series, { backoffBaseMs: 1 });
      expect(rec.entries).toBeGreaterThan(100);
    } finally {
      await srv.close();
    }
    const settings = remote('replay');
    const cuts = seededCuts(series, 20, 3);
    const here = checkLookahead({ settings, series, cuts, agents: backtestAgentStage(settings) });
    expect(here.late).toBeNull();
    expect(here.outcomes.filter((o) => o.difference === null)).toHaveLength(20);
    // the taped opinions are in what was compared: entries carry the remote agents' names
    const run = runBacktest({ settings, series, agents: backtestAgentStage(settings), keepDecisions: true });
    const entries = run.decisions.filter((d) => d.action !== 'exit');
    expect(entries.length).toBeGreaterThan(0);
    for (const d of entries) expect(d.opinions.map((o) => o.agent)).toEqual(['fingpt', 'lagllama']);
    const workers = await checkLookaheadParallel({ settings, series, cuts, workers: 2 });
    expect(workers.passed).toBe(true);
    expect(workers.outcomes.map((o) => [o.cut, o.events, o.rows])).toEqual(
      here.outcomes.map((o) => [o.cut, o.events, o.rows]),
    );
  });
});
