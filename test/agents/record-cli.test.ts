import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO } from '../kit/cli.ts';
import { completion, startModelServer, type ModelServer } from './kit/model-server.ts';

const dir = mkdtempSync(join(tmpdir(), 'agents-record-cli-'));
let model: ModelServer | null = null;
afterAll(async () => {
  await model?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** `sapphire …` as a child process that does not block this one (the model peer answers here). */
function sapphire(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', import.meta.resolve('tsx'), `${REPO}bin/sapphire.ts`, ...args], {
      cwd: dir,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '' },
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('sapphire agents record', () => {
  it('records a tape a backtest then replays, and refuses to overwrite it', async () => {
    model = await startModelServer((r) => {
      if (r.n % 7 === 0) return { status: 429, body: '{}' };
      const prompt = (r.body as { messages: { content: string }[] }).messages[1]!.content;
      const side = /proposes going long/.test(prompt) ? 'buy' : 'sell';
      return {
        status: 200,
        body: completion(JSON.stringify({ thesis: `A ${side} on this bar.`, side, risk_score: 0.5, confidence: 0.9 })),
      };
    });
    const tape = join(dir, 'tape.jsonl');
    const common = [
      '--data',
      join(REPO, 'data/sample/perp-5m'),
      '--symbols',
      'BTCUSDT',
      '--to',
      '2025-10-29',
      `FINGPT_ENDPOINT=${model.url}`,
      'FINGPT_MODEL=test-model',
      'AGENT_RETRY_ATTEMPTS=0',
      'COLLAB_SYMBOLS=',
    ];
    const rec = await sapphire(['agents', 'record', '--out', tape, ...common]);
    expect(rec.code).toBe(0);
    expect(rec.stdout).toMatch(/tape\.jsonl: \d+ entries over \d+ signals/);
    expect(rec.stdout).toMatch(/fingpt\s+faults: http-429 \d+/);
    const lines = readFileSync(tape, 'utf8').trim().split('\n');
    expect(lines.length - 1).toBe(model.requests.length);
    expect(lines.some((l) => l.includes('"fault":"http-429"'))).toBe(true);

    const again = await sapphire(['agents', 'record', '--out', tape, ...common]);
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/already holds a tape/);
    expect(readFileSync(tape, 'utf8').trim().split('\n').length).toBe(lines.length);

    const out = join(dir, 'bt');
    const bt = await sapphire([
      'backtest',
      '--quiet',
      '--out',
      out,
      ...common.filter((a) => !a.startsWith('FINGPT_ENDPOINT')),
      `FINGPT_ENDPOINT=${model.url}`,
      'AGENTS_ENABLED=true',
      `AGENT_TAPE=${tape}`,
      'AGENT_TAPE_MODE=replay',
    ]);
    expect(bt.code).toBe(0);
    const result = JSON.parse(readFileSync(join(out, 'result.json'), 'utf8')) as {
      agents: { signals: number; agents: Record<string, { faults: Record<string, number>; shareWithout: number }> };
    };
    // the taped 429s come back as 429s, counted in result.json
    expect(result.agents.agents.fingpt!.faults['http-429']).toBeGreaterThan(0);
    expect(result.agents.agents.fingpt!.shareWithout).toBeGreaterThan(0);
    writeFileSync(join(dir, 'done'), '');
  }, 240_000);
});
