import { lstatSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { chartBundle } from './reports/html-kit.ts';

/**
 * The dashboard page, its assets and the saved HTML reports, as a Fastify plugin.
 *
 * - `GET /`               the page (dashboard/public/index.html)
 * - `GET /assets/:file`   page JS/CSS from dashboard/public (plain ES modules, no build step) and
 *                         `lightweight-charts.js`, the library's standalone bundle from node_modules
 * - `GET /reports`        `{ reports: string[] }`: the .html files under `reportsDir` (two folders
 *                         deep, e.g. backtest/report.html), newest first
 * - `GET /reports/<name>` one report; the name must be in that listing (plain names, no
 *                         traversal, no symlink followed)
 *
 * The page reads `GET /dashboard` and the server-sent events of `GET /events`, which the service
 * provides (types in live/service/dashboard-view.ts). Assets are read once at registration; nothing is fetched
 * from a CDN.
 */
export interface DashboardPluginOptions {
  reportsDir: string;
}

export const PUBLIC_DIR = fileURLToPath(new URL('./public/', import.meta.url));

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const REPORT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}\.html$/;

/**
 * Content-Security-Policy of the page: own scripts only, plus the two analytics hosts (their
 * scripts are only injected after the visitor accepts the consent banner).
 */
export const PAGE_CSP = [
  "default-src 'self'",
  "script-src 'self' https://www.googletagmanager.com https://plausible.io",
  "connect-src 'self' https://*.google-analytics.com https://*.analytics.google.com https://www.googletagmanager.com https://plausible.io",
  "img-src 'self' data: https://*.google-analytics.com https://www.googletagmanager.com",
  "style-src 'self' 'unsafe-inline'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'none'",
].join('; ');

/** Reports may run their own inline chart script; nothing else. */
export const REPORT_CSP =
  "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'self'";

function extOf(name: string): string {
  const i = name.lastIndexOf('.');
  return i < 0 ? '' : name.slice(i).toLowerCase();
}

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/;

/**
 * The .html reports under `dir`, as relative paths ("report.html", "backtest/report.html"):
 * plain files only, at most `depth` folders deep (the CLI writes out/backtest/report.html and
 * out/tune/tune.html), no symlink followed, no hidden name; newest first. [] when `dir` is missing.
 */
export function listReports(dir: string, depth = 2): string[] {
  const files: { name: string; mtime: number }[] = [];
  const walk = (abs: string, rel: string, level: number): void => {
    let names: string[];
    try {
      names = readdirSync(abs);
    } catch {
      return;
    }
    for (const name of names) {
      if (!SEGMENT.test(name)) continue;
      let st;
      try {
        st = lstatSync(join(abs, name));
      } catch {
        continue; // vanished between readdir and stat
      }
      const relName = rel ? `${rel}/${name}` : name;
      if (st.isFile() && REPORT_NAME.test(name)) files.push({ name: relName, mtime: st.mtimeMs });
      else if (st.isDirectory() && level < depth) walk(join(abs, name), relName, level + 1);
    }
  };
  walk(dir, '', 0);
  return files.sort((a, b) => b.mtime - a.mtime || a.name.localeCompare(b.name)).map((f) => f.name);
}

function loadAssets(): Map<string, { body: Buffer | string; type: string }> {
  const assets = new Map<string, { body: Buffer | string; type: string }>();
  for (const name of readdirSync(PUBLIC_DIR)) {
    const type = TYPES[extOf(name)];
    if (!type || name === 'index.html') continue;
    const path = join(PUBLIC_DIR, name);
    if (!statSync(path).isFile()) continue;
    assets.set(name, { body: readFileSync(path), type });
  }
  assets.set('lightweight-charts.js', { body: chartBundle(), type: TYPES['.js']! });
  return assets;
}

function secure(reply: FastifyReply, csp: string): FastifyReply {
  return reply
    .header('content-security-policy', csp)
    .header('x-content-type-options', 'nosniff')
    .header('referrer-policy', 'no-referrer');
}

export const dashboardPlugin: FastifyPluginAsync<DashboardPluginOptions> = async (app, opts) => {
  const reportsDir = resolve(opts.reportsDir);
  const index = readFileSync(join(PUBLIC_DIR, 'index.html'));
  const assets = loadAssets();

  app.get('/', async (_request, reply) =>
    secure(reply, PAGE_CSP).header('cache-control', 'no-cache').type(TYPES['.html']!).send(index),
  );

  // browsers ask for it whatever the page says; the page's icon is /assets/favicon.svg
  app.get('/favicon.ico', async (_request, reply) => {
    const icon = assets.get('favicon.svg');
    return icon
      ? reply.type(icon.type).header('cache-control', 'max-age=86400').send(icon.body)
      : reply.code(204).send();
  });

  app.get<{ Params: { file: string } }>('/assets/:file', async (request, reply) => {
    const asset = assets.get(request.params.file);
    if (!asset) return reply.code(404).send({ error: 'not_found', message: 'no such asset' });
    return secure(reply, PAGE_CSP).header('cache-control', 'no-cache').type(asset.type).send(asset.body);
  });

  app.get('/reports', async () => ({ reports: listReports(reportsDir) }));

  app.get<{ Params: { '*': string } }>('/reports/*', async (request, reply) => {
    const name = request.params['*'];
    const segments = name.split('/');
    // plain names only: no empty, dot or hidden segment, no backslash, .html at the end
    if (!REPORT_NAME.test(segments.at(-1) ?? '') || !segments.every((x) => SEGMENT.test(x)) || name.includes('..')) {
      return reply
        .code(400)
        .send({ error: 'bad_request', message: 'report name must be a path of plain names ending in .html' });
    }
    // and it must be one of the listed reports (no symlink, within depth)
    if (!listReports(reportsDir).includes(name)) {
      return reply.code(404).send({ error: 'not_found', message: 'no such report' });
    }
    const path = resolve(reportsDir, ...segments);
    if (!path.startsWith(reportsDir + sep)) {
      return reply
        .code(400)
        .send({ error: 'bad_request', message: 'report name must be a path of plain names ending in .html' });
    }
    return secure(reply, REPORT_CSP).type(TYPES['.html']!).send(readFileSync(path));
  });
};
