import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const SCRIPT = join(ROOT, 'deploy/cloud-run.sh');

/**
 * gcloud and docker stand-ins that only record their argv (one JSON line per call) into a log: put
 * first on PATH so the real tools are never reached, not even by mistake.
 */
const bin = mkdtempSync(join(tmpdir(), 'sapphire-cloudrun-'));
const LOG = join(bin, 'calls.jsonl');
for (const tool of ['gcloud', 'docker']) {
  const path = join(bin, tool);
  writeFileSync(
    path,
    `#!/usr/bin/env node\nrequire('node:fs').appendFileSync(${JSON.stringify(LOG)}, JSON.stringify(['${tool}', ...process.argv.slice(2)]) + '\\n');\n`,
  );
  chmodSync(path, 0o755);
}
afterAll(() => rmSync(bin, { recursive: true, force: true }));

function deploy(args: string[]) {
  rmSync(LOG, { force: true });
  const result = spawnSync('bash', [SCRIPT, ...args], {
    encoding: 'utf8',
    env: { PATH: `${bin}:${process.env.PATH ?? ''}`, HOME: process.env.HOME ?? '' },
    timeout: 30_000,
  });
  const calls = existsSync(LOG)
    ? readFileSync(LOG, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as string[])
    : [];
  return { code: result.status, stdout: result.stdout, stderr: result.stderr, calls };
}

const BASE = ['--project', 'sapphire-prod', '--region', 'europe-west1', '--tag', 'v1.2.3'];
const IMAGE = 'europe-west1-docker.pkg.dev/sapphire-prod/sapphire/sapphire:v1.2.3';
const DEPLOY_COMMON = [
  'gcloud run deploy sapphire --project=sapphire-prod --region=europe-west1',
  `--image=${IMAGE}`,
  '--port=8080 --cpu=1 --memory=1Gi --min-instances=1 --max-instances=1 --no-cpu-throttling',
  '--startup-probe=httpGet.path=/healthz,httpGet.port=8080,periodSeconds=5,failureThreshold=24',
  '--liveness-probe=httpGet.path=/healthz,httpGet.port=8080,periodSeconds=30,failureThreshold=3',
].join(' ');
const DEFAULT_SECRETS =
  '--set-secrets=ASTER_API_KEY=ASTER_API_KEY:latest,ASTER_SECRET_KEY=ASTER_SECRET_KEY:latest,' +
  'ASTER_SIGNER_PRIVATE_KEY=ASTER_SIGNER_PRIVATE_KEY:latest,ADMIN_API_TOKEN=ADMIN_API_TOKEN:latest,' +
  'TELEGRAM_BOT_TOKEN=TELEGRAM_BOT_TOKEN:latest';

describe('deploy/cloud-run.sh --dry-run', () => {
  it('prints the exact Cloud Build and Cloud Run commands and runs nothing', () => {
    const r = deploy([...BASE, '--dry-run']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      `gcloud builds submit --project=sapphire-prod --tag=${IMAGE} ${ROOT}`,
      `${DEPLOY_COMMON} --set-env-vars=TRADING_MODE=paper ${DEFAULT_SECRETS} --no-allow-unauthenticated --quiet`,
    ]);
    expect(r.calls).toEqual([]);
  });

  it('docker builder, live mode, chosen secrets with versions, settings with commas, service account, public', () => {
    const r = deploy([
      ...BASE,
      '--dry-run',
      '--builder',
      'docker',
      '--mode',
      'live',
      '--secrets',
      'ADMIN_API_TOKEN,ASTER_API_KEY=aster-key:3,ASTER_SECRET_KEY=aster-secret',
      '--env',
      'SYMBOLS=BTCUSDT,ETHUSDT',
      '--env',
      'REDIS_URL=redis://10.0.0.3:6379',
      '--service-account',
      'sapphire-run@sapphire-prod.iam.gserviceaccount.com',
      '--public',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n')).toEqual([
      'gcloud auth configure-docker europe-west1-docker.pkg.dev --quiet',
      `docker build --tag ${IMAGE} ${ROOT}`,
      `docker push ${IMAGE}`,
      `${DEPLOY_COMMON} '--set-env-vars=^;^TRADING_MODE=live;ENABLE_PAPER_TRADING=false;SYMBOLS=BTCUSDT,ETHUSDT;REDIS_URL=redis://10.0.0.3:6379'` +
        ' --set-secrets=ADMIN_API_TOKEN=ADMIN_API_TOKEN:latest,ASTER_API_KEY=aster-key:3,ASTER_SECRET_KEY=aster-secret:latest' +
        ' --service-account=sapphire-run@sapphire-prod.iam.gserviceaccount.com --allow-unauthenticated --quiet',
    ]);
    expect(r.calls).toEqual([]);
  });

  it('--no-build with an existing image deploys only; --secrets none clears secrets', () => {
    const image = 'europe-west1-docker.pkg.dev/sapphire-prod/sapphire/sapphire@sha256:' + 'a'.repeat(64);
    const r = deploy([
      '--project',
      'sapphire-prod',
      '--region',
      'europe-west1',
      '--image',
      image,
      '--no-build',
      '--secrets',
      'none',
      '--dry-run',
    ]);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(`--image=${image}`);
    expect(lines[0]).toContain('--clear-secrets');
    expect(lines[0]).not.toContain('--set-secrets');
  });

  it.each([
    [[], /--project is required/],
    [['--project', 'sapphire-prod'], /--region is required/],
    [['--project', 'Bad_Project', '--region', 'europe-west1'], /not a project id/],
    [[...BASE, '--mode', 'yolo'], /--mode must be paper or live/],
    [[...BASE, '--builder', 'kaniko'], /--builder must be cloud-build or docker/],
    [[...BASE, '--env', 'ASTER_API_KEY=abc'], /ASTER_API_KEY is a secret: store it in Secret Manager/],
    [[...BASE, '--env', 'PORT=9000'], /PORT is set by Cloud Run/],
    [[...BASE, '--env', 'lowercase=1'], /is not NAME=VALUE/],
    [[...BASE, '--secrets', 'ASTER_API_KEY,NOT_A_SECRET'], /NOT_A_SECRET is not a secret setting/],
    [[...BASE, '--secrets', 'ASTER_API_KEY,ASTER_API_KEY'], /listed twice/],
    [[...BASE, '--mode', 'live', '--secrets', 'ASTER_API_KEY'], /--mode live needs ADMIN_API_TOKEN/],
    [[...BASE, '--region'], /--region needs a value/],
    [[...BASE, '--frobnicate'], /unknown argument '--frobnicate'/],
    [[...BASE, '--image', 'x:1'], /--tag and --image exclude each other/],
  ])('bad arguments %j fail clearly, exit 2, run nothing', (args, message) => {
    // without --dry-run: a validation failure must stop before any command
    const r = deploy(args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe('');
    expect(r.calls).toEqual([]);
  });
});

describe('deploy/cloud-run.sh (real run, tools recorded)', () => {
  it('runs exactly the commands the dry run prints, in order', () => {
    const args = [...BASE, '--builder', 'docker', '--env', 'SYMBOLS=BTCUSDT,ETHUSDT'];
    const dry = deploy([...args, '--dry-run']);
    const real = deploy(args);
    expect(real.code, real.stderr).toBe(0);
    expect(real.calls).toHaveLength(4);
    expect(real.calls.map((argv) => argv.join(' '))).toEqual([
      'gcloud auth configure-docker europe-west1-docker.pkg.dev --quiet',
      `docker build --tag ${IMAGE} ${ROOT}`,
      `docker push ${IMAGE}`,
      `${DEPLOY_COMMON} --set-env-vars=^;^TRADING_MODE=paper;SYMBOLS=BTCUSDT,ETHUSDT ${DEFAULT_SECRETS} --no-allow-unauthenticated --quiet`,
    ]);
    // the printed lines are the same commands, shell-quoted: bash reads them back into the same argv
    const reparsed = dry.stdout
      .trim()
      .split('\n')
      .map((line) => {
        const out = spawnSync('bash', ['-c', `printf '%s\\0' ${line}`], { encoding: 'utf8' });
        return out.stdout.split('\0').slice(0, -1);
      });
    expect(reparsed).toEqual(real.calls);
    // and each command was echoed to stderr as it ran
    expect(real.stderr.split('\n').filter((l) => l.startsWith('+ '))).toHaveLength(4);
  });

  it('passes shellcheck', () => {
    const check = spawnSync('shellcheck', ['--version'], { encoding: 'utf8' });
    if (check.error) return; // shellcheck not installed on this machine: nothing to check with
    const r = spawnSync('shellcheck', [SCRIPT], { encoding: 'utf8' });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.status).toBe(0);
  });
});
