import { mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dashboardPlugin, listReports, PAGE_CSP } from '../../dashboard/plugin.ts';

let root: string;
let reportsDir: string;
let app: FastifyInstance;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'sapphire-plugin-'));
  reportsDir = join(root, 'reports');
  mkdirSync(reportsDir);
  writeFileSync(join(root, 'secret.html'), '<p>outside the reports folder</p>');
  writeFileSync(join(reportsDir, 'older.html'), '<p>older</p>');
  writeFileSync(join(reportsDir, 'newer.html'), '<p>newer</p>');
  utimesSync(join(reportsDir, 'older.html'), new Date('2025-01-01T00:00:00Z'), new Date('2025-01-01T00:00:00Z'));
  utimesSync(join(reportsDir, 'newer.html'), new Date('2025-02-01T00:00:00Z'), new Date('2025-02-01T00:00:00Z'));
  writeFileSync(join(reportsDir, 'notes.txt'), 'not a report');
  writeFileSync(join(reportsDir, '.hidden.html'), 'hidden');
  mkdirSync(join(reportsDir, 'folder.html'));
  symlinkSync(join(root, 'secret.html'), join(reportsDir, 'escape.html'));
  symlinkSync(root, join(reportsDir, 'linked'));
  mkdirSync(join(reportsDir, 'backtest'));
  writeFileSync(join(reportsDir, 'backtest', 'report.html'), '<p>nested</p>');
  utimesSync(
    join(reportsDir, 'backtest', 'report.html'),
    new Date('2024-06-01T00:00:00Z'),
    new Date('2024-06-01T00:00:00Z'),
  );
  mkdirSync(join(reportsDir, 'a', 'b', 'c'), { recursive: true });
  writeFileSync(join(reportsDir, 'a', 'b', 'c', 'deep.html'), '<p>too deep</p>');
  app = Fastify();
  await app.register(dashboardPlugin, { reportsDir });
  await app.ready();
});

afterAll(async () => {
  await app.close();
  rmSync(root, { recursive: true, force: true });
});

describe('dashboardPlugin', () => {
  it('serves the page with a strict content security policy', async () => {
    const res = await app.inject('/');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.headers['content-security-policy']).toBe(PAGE_CSP);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.body).toContain('/assets/app.js');
    expect(res.body).toContain('/assets/lightweight-charts.js');
    expect(res.body).not.toMatch(/https?:\/\//); // no CDN, no outside asset
  });

  it('serves the page assets and the chart bundle from node_modules, nothing else', async () => {
    const js = await app.inject('/assets/app.js');
    expect(js.statusCode).toBe(200);
    expect(js.headers['content-type']).toContain('text/javascript');
    const lib = await app.inject('/assets/lightweight-charts.js');
    expect(lib.statusCode).toBe(200);
    expect(lib.body).toContain('window.LightweightCharts');
    expect((await app.inject('/assets/style.css')).headers['content-type']).toContain('text/css');
    for (const url of [
      '/assets/index.html',
      '/assets/..%2Fplugin.ts',
      '/assets/%2e%2e%2fplugin.ts',
      '/assets/nope.js',
    ]) {
      expect((await app.inject(url)).statusCode, url).toBe(404);
    }
    expect((await app.inject('/favicon.ico')).statusCode).toBe(200);
  });

  it('lists plain .html files of the reports folder, newest first', async () => {
    const res = await app.inject('/reports');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ reports: ['newer.html', 'older.html', 'backtest/report.html'] });
    expect(listReports(reportsDir)).toEqual(['newer.html', 'older.html', 'backtest/report.html']);
    expect(listReports(reportsDir, 3)).toContain('a/b/c/deep.html');
    expect(listReports(join(root, 'missing'))).toEqual([]);
  });

  it('serves a listed report and refuses traversal, symlinks, folders and other files', async () => {
    const ok = await app.inject('/reports/newer.html');
    expect(ok.statusCode).toBe(200);
    expect(ok.body).toBe('<p>newer</p>');
    expect(ok.headers['content-security-policy']).toContain("default-src 'none'");
    const nested = await app.inject('/reports/backtest/report.html');
    expect(nested.statusCode).toBe(200);
    expect(nested.body).toBe('<p>nested</p>');
    const refused: [string, number][] = [
      ['/reports/..%2Fsecret.html', 400],
      ['/reports/%2e%2e%2fsecret.html', 400],
      ['/reports/..%5Csecret.html', 400],
      ['/reports/escape.html', 404],
      ['/reports/folder.html', 404],
      ['/reports/.hidden.html', 400],
      ['/reports/notes.txt', 400],
      ['/reports/missing.html', 404],
      ['/reports/linked/secret.html', 404],
      ['/reports/a/b/c/deep.html', 404],
      ['/reports/backtest/../../secret.html', 404], // the URL parser resolves the dots: /secret.html
      ['/reports/backtest/%2e%2e/%2e%2e/secret.html', 404], // decoded and resolved by the router
      ['/reports/backtest//report.html', 400],
      ['/reports/newer.html%00.txt', 400],
    ];
    for (const [url, status] of refused) {
      const res = await app.inject(url);
      expect(res.statusCode, url).toBe(status);
      expect(res.body).not.toContain('outside the reports folder');
    }
    expect((await app.inject('/reports/../secret.html')).body).not.toContain('outside the reports folder');
  });
});
