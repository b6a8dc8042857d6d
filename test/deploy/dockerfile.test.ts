import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SECRET_SETTING_NAMES } from '../../pipelines/settings-kit.ts';

/**
 * No Docker engine (and no hadolint in Debian) here: the Dockerfile is parsed and held to the
 * rules it must keep. Each rule below names what would break in production.
 */
const ROOT = resolve(import.meta.dirname, '../..');

interface Instruction {
  op: string;
  args: string;
  line: number;
}
interface Stage {
  base: string;
  name: string;
  body: Instruction[];
}

function parseDockerfile(text: string): { preamble: Instruction[]; stages: Stage[] } {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const start = i;
    let line = lines[i]!;
    if (/^\s*(#.*)?$/.test(line)) continue;
    while (line.endsWith('\\') && i + 1 < lines.length) {
      i++;
      const next = lines[i]!;
      if (/^\s*#/.test(next)) continue; // comments inside a continuation are dropped
      line = `${line.slice(0, -1)} ${next.trim()}`;
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile:${start + 1}: cannot parse ${JSON.stringify(line)}`);
    instructions.push({ op: m[1]!.toUpperCase(), args: m[2]!.trim(), line: start + 1 });
  }
  const preamble: Instruction[] = [];
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.op === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args);
      if (!m) throw new Error(`Dockerfile:${ins.line}: bad FROM`);
      stages.push({ base: m[1]!, name: m[2] ?? String(stages.length), body: [] });
    } else if (stages.length === 0) preamble.push(ins);
    else stages.at(-1)!.body.push(ins);
  }
  return { preamble, stages };
}

const dockerfile = readFileSync(join(ROOT, 'Dockerfile'), 'utf8');
const { preamble, stages } = parseDockerfile(dockerfile);
const runtime = stages.at(-1)!;
const all = [...preamble, ...stages.flatMap((s) => s.body)];
const execForm = (args: string) => JSON.parse(args) as string[];

describe('Dockerfile', () => {
  it('is multi-stage: build (npm ci + type-check), production deps, slim runtime', () => {
    expect(stages.map((s) => s.name)).toEqual(['build', 'deps', 'runtime']);
    const build = stages[0]!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(build.some((a) => /\bnpm ci\b/.test(a))).toBe(true);
    expect(build.some((a) => /tsc --noEmit/.test(a))).toBe(true);
    const deps = stages[1]!.body.filter((i) => i.op === 'RUN').map((i) => i.args);
    expect(deps.some((a) => /\bnpm ci\b.*--omit=dev/.test(a))).toBe(true);
    // the runtime installs nothing itself: its node_modules come from the deps stage
    expect(runtime.body.some((i) => i.op === 'RUN' && /\bnpm (ci|install|i)\b/.test(i.args))).toBe(false);
    expect(runtime.body.some((i) => i.op === 'COPY' && /--from=deps\b.*node_modules/.test(i.args))).toBe(true);
    // every COPY --from names an earlier stage
    stages.forEach((stage, index) => {
      for (const ins of stage.body.filter((i) => i.op === 'COPY')) {
        const from = /--from=(\S+)/.exec(ins.args)?.[1];
        if (from)
          expect(
            stages.slice(0, index).map((s) => s.name),
            `line ${ins.line}`,
          ).toContain(from);
      }
    });
  });

  it('every stage uses the pinned node 20 bookworm-slim base', () => {
    const arg = preamble.find((i) => i.op === 'ARG' && i.args.startsWith('NODE_IMAGE='));
    expect(arg?.args).toMatch(/^NODE_IMAGE=node:20\.\d+\.\d+-bookworm-slim(@sha256:[0-9a-f]{64})?$/);
    for (const stage of stages) expect(stage.base).toBe('${NODE_IMAGE}');
  });

  it('runs as a non-root user from before anything executes to the end', () => {
    const users = runtime.body.filter((i) => i.op === 'USER');
    expect(users.length).toBeGreaterThan(0);
    const last = users.at(-1)!;
    expect(last.args).not.toMatch(/^(root|0)(:|$)/);
    const cmd = runtime.body.find((i) => i.op === 'CMD')!;
    expect(last.line).toBeLessThan(cmd.line);
    // files the app writes (journal, outputs) belong to that user
    expect(runtime.body.some((i) => i.op === 'RUN' && /chown node:node .*\/app\/\.sapphire/.test(i.args))).toBe(true);
  });

  it('has a HEALTHCHECK on /healthz done with node (slim images have no curl or wget)', () => {
    const health = runtime.body.filter((i) => i.op === 'HEALTHCHECK');
    expect(health).toHaveLength(1);
    const cmd = /CMD\s+(\[.*\])$/.exec(health[0]!.args)?.[1];
    const argv = execForm(cmd!);
    expect(argv[0]).toBe('node');
    expect(argv.join(' ')).toContain('/healthz');
    expect(health[0]!.args).not.toMatch(/\b(curl|wget)\b/);
  });

  it('starts `sapphire serve` in exec form listening on 0.0.0.0:8080', () => {
    const cmd = execForm(runtime.body.find((i) => i.op === 'CMD')!.args);
    expect(cmd).toEqual(['node', '--import', 'tsx', 'bin/sapphire.ts', 'serve']);
    const env = runtime.body
      .filter((i) => i.op === 'ENV')
      .map((i) => i.args)
      .join(' ');
    expect(env).toMatch(/\bHOST=0\.0\.0\.0\b/);
    expect(env).toMatch(/\bPORT=8080\b/);
    expect(runtime.body.find((i) => i.op === 'EXPOSE')?.args).toBe('8080');
  });

  it('bakes no secret into ENV or ARG', () => {
    const names = all
      .filter((i) => i.op === 'ENV' || i.op === 'ARG')
      .flatMap((i) => [...i.args.matchAll(/(?:^|\s)([A-Za-z_][A-Za-z0-9_]*)(?==|\s|$)/g)].map((m) => m[1]!));
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) {
      expect(SECRET_SETTING_NAMES as readonly string[]).not.toContain(name);
      expect(name).not.toMatch(/KEY|TOKEN|SECRET|PASSWORD|CREDENTIAL/i);
    }
  });

  it('copies tsx with every dependency the lockfile gives it (a new one would be missing at run time)', () => {
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as {
      packages: Record<
        string,
        { dependencies?: Record<string, string>; optionalDependencies?: Record<string, string> }
      >;
    };
    const copied = stages[1]!.body
      .filter((i) => i.op === 'COPY' && i.args.startsWith('--from=build'))
      .map((i) => /node_modules\/(\S+)\s/.exec(i.args)?.[1]);
    const needed = new Set<string>();
    const visit = (name: string) => {
      if (needed.has(name)) return;
      needed.add(name);
      const entry = lock.packages[`node_modules/${name}`];
      for (const dep of Object.keys(entry?.dependencies ?? {})) visit(dep);
    };
    visit('tsx');
    for (const name of needed) {
      const scope = name.startsWith('@') ? name.split('/')[0]! : name;
      expect(copied, name).toContain(scope);
    }
    // esbuild's native binary lives in @esbuild/<platform>
    expect(copied).toContain('@esbuild');
  });

  it('keeps hadolint-style hygiene: absolute WORKDIR, no cd/sudo/apt without cleanup, no ADD of URLs', () => {
    for (const ins of all) {
      if (ins.op === 'WORKDIR') expect(ins.args.startsWith('/'), `line ${ins.line}`).toBe(true);
      if (ins.op === 'RUN') {
        expect(ins.args, `line ${ins.line}`).not.toMatch(/(^|&&|;)\s*cd\s/);
        expect(ins.args, `line ${ins.line}`).not.toMatch(/\bsudo\b/);
        if (/apt-get install/.test(ins.args))
          expect(ins.args).toMatch(/--no-install-recommends.*rm -rf \/var\/lib\/apt\/lists/);
      }
      expect(ins.op, `line ${ins.line}`).not.toBe('ADD');
      expect(ins.op, `line ${ins.line}`).not.toBe('MAINTAINER');
    }
  });
});

describe('.dockerignore', () => {
  const ignored = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'));

  it('keeps credentials, local state, git and host node_modules out of the build context', () => {
    for (const entry of ['.env', '.env.*', '.git', 'node_modules', '.sapphire', 'out'])
      expect(ignored).toContain(entry);
  });

  it('does not exclude what the image runs (sources, lockfile, sample data)', () => {
    for (const kept of [
      'bin',
      'pipelines',
      'operators',
      'live',
      'secrets',
      'package.json',
      'package-lock.json',
      'data',
    ]) {
      expect(ignored).not.toContain(kept);
    }
  });
});
