import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { AgentFault, Decision } from '../../pipelines/model/index.ts';
import type { Settings } from '../../pipelines/settings.ts';
import { isSapphireError } from '../../pipelines/errors.ts';
import { runBacktest } from '../../backtests/run-backtest.ts';
import { recordAgentTape } from '../../agents/record-tape.ts';
import { backtestAgentStage } from '../../agents/build-agents.ts';
import { fixtureColumns } from '../kit/fixture-bars.ts';
import { activeSettings } from '../kit/pipeline-kit.ts';
import { completion, startModelServer, type ModelServer, type SeenRequest } from './kit/model-server.ts';

// one symbol keeps the recorded HTTP traffic (one call per agent and signal) small
const series = [fixtureColumns('BTCUSDT')];
const dir = mkdtempSync(join(tmpdir(), 'sapphire-tape-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

let servers: ModelServer[] = [];
afterEach(async () => {
  await Promise.all(servers.map((s) => s.close()));
  servers = [];
});

/**
 * A small "model" peer: the thesis endpoint agrees (or, with `contrarian`, disagrees) with the
 * proposal in the prompt; the forecast endpoint extrapolates the last hour of the closes it is sent.
 */
async function modelPeer(contrarian = false): Promise<ModelServer> {
  const srv = await startModelServer((r: SeenRequest) => {
    if (r.path === '/forecast') {
      const { closes, horizon } = r.body as { closes: number[]; horizon: number };
      const last = closes[closes.length - 1]!;
      const step = (last / closes[closes.length - 13]! - 1) / 12;
      const pts = Array.from({ length: horizon }, (_, k) => last * (1 + step * (k + 1)));
      return {
        status: 200,
        body: JSON.stringify({
          forecast: pts,
          lower_ci: pts.map((p) => p * 0.99),
          upper_ci: pts.map((p) => p * 1.01),
          anomaly_score: 0.05,
          confidence: 0.8,
        }),
      };
    }
    const prompt = (r.body as { messages: { content: string }[] }).messages[1]!.content;
    const long = /proposes going long/.test(prompt);
    const side = long !== contrarian ? 'buy' : 'sell';
    const reply = { thesis: `The model reads the tape as a ${side} here.`, side, risk_score: 0.5, confidence: 0.8 };
    return { status: 200, body: completion('```json\n' + JSON.stringify(reply) + '\n```') };
  });
  servers.push(srv);
  return srv;
}

function remoteSettings(
  url: string,
  tape: string,
  mode: 'record' | 'replay' | 'call-through',
  forecast = true,
): Settings {
  return activeSettings({
    AGENTS_ENABLED: true,
    FINGPT_ENDPOINT: url,
    FINGPT_MODEL: 'fingpt',
    LAGLLAMA_ENDPOINT: forecast ? `${url}/forecast` : '',
    AGENT_TAPE: tape,
    AGENT_TAPE_MODE: mode,
    COLLAB_SYMBOLS: '',
    SYMBOLS: 'BTCUSDT',
    MAX_PARALLEL_AGENTS: 8,
  });
}

const backtest = (s: Settings) => runBacktest({ settings: s, series, agents: backtestAgentStage(s), keepEvents: true });

describe('agent tapes', { timeout: 120_000 }, () => {
  it('records remote replies once, with data up to each bar only, and replays them byte-identically', async () => {
    const srv = await modelPeer();
    const tape = join(dir, 'a.jsonl');
    const rec = await recordAgentTape(remoteSettings(srv.url, tape, 'record'), series, { backoffBaseMs: 1 });
    expect(rec.stage.signals).toBeGreaterThan(100);
    expect(rec.gateway?.maxInFlight).toBe(8);
    expect(rec.entries).toBe(2 * rec.stage.signals);
    expect(srv.requests.length).toBe(rec.entries);

    // no look-ahead: every forecast request carries the fixture closes up to its bar, no later
    const bySymbol = new Map(series.map((c) => [c.symbol, c]));
    for (const r of srv.requests.filter((q) => q.path === '/forecast')) {
      const b = r.body as { symbol: string; time: number; closes: number[] };
      const c = bySymbol.get(b.symbol)!;
      const t = c.openTime.indexOf(b.time - c.intervalMs);
      expect(b.closes).toEqual(Array.from(c.close.subarray(t + 1 - b.closes.length, t + 1)));
    }

    // replays call nothing and reproduce exactly
    const replay = remoteSettings(srv.url, tape, 'replay');
    const one = backtest(replay);
    const two = backtest(replay);
    expect(srv.requests.length).toBe(rec.entries);
    expect(JSON.stringify(two)).toBe(JSON.stringify(one));
    expect(one.events!.some((e) => e.kind === 'agent-fault')).toBe(false);
    const entries = one.decisions.filter((d) => d.action !== 'exit');
    expect(entries.length).toBeGreaterThan(0);
    for (const d of entries) expect(d.opinions.map((o) => o.agent)).toEqual(['fingpt', 'lagllama']);

    // recording again gives the same bytes, whatever order the calls finished in
    const again = join(dir, 'b.jsonl');
    await recordAgentTape(remoteSettings(srv.url, again, 'record'), series, { backoffBaseMs: 1 });
    expect(readFileSync(again)).toEqual(readFileSync(tape));
  });

  it('a replay miss stops the backtest unless skipped (then an AGENT_TAPE_MISS fault); call-through fills only the gaps', async () => {
    const srv = await modelPeer();
    const tape = join(dir, 'c.jsonl');
    const rec = await recordAgentTape(remoteSettings(srv.url, tape, 'record'), series, { backoffBaseMs: 1 });
    const lines = readFileSync(tape, 'utf8').trim().split('\n');
    const kept = lines.slice(0, lines.length >> 1);
    writeFileSync(tape, kept.join('\n') + '\n');

    // a miss stops a backtest by default (it would run another strategy); skipping is explicit
    const replay = remoteSettings(srv.url, tape, 'replay');
    expect(() => backtest(replay)).toThrow(/AGENT_TAPE_MISS: agent (fingpt|lagllama) has no tape reply for BTCUSDT/);
    const r = runBacktest({
      settings: replay,
      series,
      agents: backtestAgentStage(replay),
      keepEvents: true,
      tapeMiss: 'skip',
    });
    const misses = r.events!.filter((e): e is AgentFault => e.kind === 'agent-fault');
    expect(misses.length).toBeGreaterThan(0);
    for (const m of misses) expect(m.fault).toBe('AGENT_TAPE_MISS');
    expect(r.trades.length).toBeGreaterThan(0);

    const before = srv.requests.length;
    const filled = await recordAgentTape(remoteSettings(srv.url, tape, 'call-through'), series, { backoffBaseMs: 1 });
    // the first kept line is the header
    expect(srv.requests.length - before).toBe(rec.entries - (kept.length - 1));
    expect(filled.entries).toBe(rec.entries);
  });

  it('an agent decision changes trades: agreeing model → entries, contrarian model → none', async () => {
    const agree = await modelPeer(false);
    const against = await modelPeer(true);
    const ta = join(dir, 'agree.jsonl');
    const tb = join(dir, 'against.jsonl');
    await recordAgentTape(remoteSettings(agree.url, ta, 'record', false), series, { backoffBaseMs: 1 });
    await recordAgentTape(remoteSettings(against.url, tb, 'record', false), series, { backoffBaseMs: 1 });

    const on = backtest(remoteSettings(agree.url, ta, 'replay', false));
    const off = backtest(remoteSettings(against.url, tb, 'replay', false));
    const entriesOn = on.decisions.filter((d: Decision) => d.action !== 'exit');
    expect(entriesOn.length).toBeGreaterThan(0);
    expect(on.trades.length).toBeGreaterThan(0);
    for (const d of entriesOn) {
      expect(d.gates.find((g) => g.gate === 'fingpt:agrees')?.passed).toBe(true);
      expect(d.gates.find((g) => g.gate === 'support')?.passed).toBe(true);
    }
    expect(off.decisions.length).toBe(0);
    expect(off.trades.length).toBe(0);
    expect(off.denials['consensus:agent-gates']).toBeGreaterThan(0);
    const denied = off.events!.find((e) => e.kind === 'denied' && e.stage === 'consensus');
    expect(denied && denied.kind === 'denied' && denied.detail).toContain('fingpt:agrees');
  });

  it('judges taped raw replies at replay: agent thresholds change decisions, equal settings give equal bytes', async () => {
    const srv = await modelPeer();
    const tape = join(dir, 'judge.jsonl');
    await recordAgentTape(remoteSettings(srv.url, tape, 'record'), series, { backoffBaseMs: 1 });
    const asked = srv.requests.length;
    const base = remoteSettings(srv.url, tape, 'replay');
    const one = backtest(base);
    expect(JSON.stringify(backtest(base))).toBe(JSON.stringify(one));
    const entries = (r: ReturnType<typeof backtest>) => r.decisions.filter((d) => d.action !== 'exit').length;
    expect(entries(one)).toBeGreaterThan(0);
    // the model answers risk_score 0.5: a floor above it rejects every thesis
    const strictRisk = backtest({ ...base, FINGPT_MIN_RISK_SCORE: 0.6 });
    expect(entries(strictRisk)).toBeLessThan(entries(one));
    // its bands are 2 % wide: a narrower ceiling rejects every forecast
    const strictSpan = backtest({ ...base, LAGLLAMA_MAX_CI_SPAN: 0.001 });
    expect(JSON.stringify(strictSpan.decisions)).not.toBe(JSON.stringify(one.decisions));
    expect(srv.requests.length).toBe(asked);
  });

  it('tape files: a header naming each agent, a torn last line cut, record never overwrites, mode explicit', async () => {
    const srv = await modelPeer();
    const tape = join(dir, 'files.jsonl');
    await recordAgentTape(remoteSettings(srv.url, tape, 'record'), series, { backoffBaseMs: 1 });
    const text = readFileSync(tape, 'utf8');
    const header = JSON.parse(text.slice(0, text.indexOf('\n'))) as { tape: string; agents: Record<string, unknown> };
    expect(header.tape).toBe('sapphire-agent-tape');
    expect(header.agents.fingpt).toMatchObject({ model: 'fingpt', endpoint: new URL(srv.url).host });
    expect(header.agents.lagllama).toMatchObject({ horizon: 12, context: 128 });
    // entries key the proposed direction and hold the raw reply
    const first = JSON.parse(text.split('\n')[1]!) as Record<string, unknown>;
    expect(Object.keys(first)).toEqual(['agent', 'symbol', 'time', 'direction', 'strategy', 'reply']);

    // a crash mid-write: the torn tail is cut on open, the rest replays
    writeFileSync(tape, text + '{"agent":"fingpt","sym');
    const replayed = backtest(remoteSettings(srv.url, tape, 'replay'));
    expect(readFileSync(tape, 'utf8')).toBe(text);
    expect(replayed.decisions.length).toBeGreaterThan(0);

    // record refuses to overwrite a tape, naming it; the file is untouched
    await expect(recordAgentTape(remoteSettings(srv.url, tape, 'record'), series)).rejects.toThrow(
      /AGENT_TAPE=.*files\.jsonl already holds a tape/,
    );
    expect(readFileSync(tape, 'utf8')).toBe(text);
    // AGENT_TAPE without AGENT_TAPE_MODE is an error, not a silent replay
    expect(() => backtestAgentStage({ ...remoteSettings(srv.url, tape, 'replay'), AGENT_TAPE_MODE: '' })).toThrow(
      /AGENT_TAPE_MODE/,
    );
    // a tape recorded for another model is refused, naming the field
    expect(() => backtest({ ...remoteSettings(srv.url, tape, 'replay'), FINGPT_MODEL: 'other-model' })).toThrow(
      /recorded for fingpt model=fingpt, the settings give model=other-model/,
    );
  });

  it('keys on the proposing strategy: two strategies proposing on one bar get separate taped opinions; v2 tapes are refused', async () => {
    const srv = await modelPeer();
    const tape = join(dir, 'strategies.jsonl');
    const withStrategy = (strategy: string, mode: 'record' | 'replay' | 'call-through'): Settings => ({
      ...remoteSettings(srv.url, tape, mode),
      STRATEGIES: [strategy],
    });
    await recordAgentTape(withStrategy('momentum', 'record'), series, { backoffBaseMs: 1 });
    const momentumAsks = srv.requests.length;
    // momentum's opinions do not answer breakout's entries, even on bars where both propose the same side
    const borrowed = runBacktest({
      settings: withStrategy('breakout', 'replay'),
      series,
      agents: backtestAgentStage(withStrategy('breakout', 'replay')),
      keepEvents: true,
      tapeMiss: 'skip',
    });
    const misses = borrowed.events!.filter((e): e is AgentFault => e.kind === 'agent-fault');
    expect(misses.length).toBeGreaterThan(0);
    expect(misses.every((m) => m.fault === 'AGENT_TAPE_MISS' && m.detail.includes('breakout'))).toBe(true);

    // the same tape, extended by breakout: both strategies' opinions side by side
    await recordAgentTape(withStrategy('breakout', 'call-through'), series, { backoffBaseMs: 1 });
    expect(srv.requests.length).toBeGreaterThan(momentumAsks);
    const lines = readFileSync(tape, 'utf8').trim().split('\n').slice(1);
    type Line = { agent: string; symbol: string; time: number; direction: number; strategy: string };
    const entries = lines.map((l) => JSON.parse(l) as Line);
    const strategiesPerAsk = new Map<string, Set<string>>();
    for (const e of entries) {
      const ask = `${e.agent}|${e.symbol}|${e.time}|${e.direction}`;
      strategiesPerAsk.set(ask, (strategiesPerAsk.get(ask) ?? new Set()).add(e.strategy));
    }
    expect([...strategiesPerAsk.values()].filter((set) => set.size === 2).length).toBeGreaterThan(0);
    // the prompt names the proposing strategy, so the model judges that strategy's idea
    const prompts = srv.requests.slice(momentumAsks).filter((r) => r.path !== '/forecast');
    expect(prompts.every((r) => JSON.stringify(r.body).includes('The breakout strategy proposes'))).toBe(true);

    // each strategy replays from its own entries, byte-identically, without a call
    const asked = srv.requests.length;
    for (const strategy of ['momentum', 'breakout']) {
      const one = backtest(withStrategy(strategy, 'replay'));
      expect(JSON.stringify(backtest(withStrategy(strategy, 'replay')))).toBe(JSON.stringify(one));
      expect(one.events!.some((e) => e.kind === 'agent-fault')).toBe(false);
      expect(one.decisions.filter((d) => d.action !== 'exit').every((d) => d.source === strategy)).toBe(true);
    }
    expect(srv.requests.length).toBe(asked);

    // a v2 tape (keys without strategy) is refused with the reason, not guessed
    const text = readFileSync(tape, 'utf8');
    const v2 = join(dir, 'v2.jsonl');
    const [head, ...body] = text.trim().split('\n');
    const oldBody = body.map((l) => {
      const { strategy: _dropped, ...rest } = JSON.parse(l) as Record<string, unknown>;
      return JSON.stringify(rest);
    });
    writeFileSync(v2, [head!.replace('"version":3', '"version":2'), ...oldBody].join('\n') + '\n');
    expect(() => backtest({ ...withStrategy('momentum', 'replay'), AGENT_TAPE: v2 })).toThrow(
      /v2\.jsonl is a v2 tape, keyed without the proposing strategy: record it again/,
    );
  });

  it('refuses remote agents in a synchronous backtest without a replay tape', () => {
    const s = activeSettings({ AGENTS_ENABLED: true, FINGPT_ENDPOINT: 'http://127.0.0.1:9' });
    let error: unknown;
    try {
      backtestAgentStage(s);
    } catch (e) {
      error = e;
    }
    expect(isSapphireError(error, 'NOT_CONFIGURED')).toBe(true);
    expect(backtestAgentStage(activeSettings({ AGENTS_ENABLED: false }))).toBeUndefined();
    // record mode in a backtest is refused before the tape is touched
    const tape = join(dir, 'keep.jsonl');
    writeFileSync(tape, 'precious\n');
    expect(() => backtestAgentStage(remoteSettings('http://127.0.0.1:9', tape, 'record'))).toThrow(
      /AGENT_TAPE_MODE=replay/,
    );
    expect(readFileSync(tape, 'utf8')).toBe('precious\n');
  });
});
