import { createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '../..');
// the tsx loader by absolute URL: the CLI runs with a temporary working directory
const TSX = pathToFileURL(join(ROOT, 'node_modules/tsx/dist/loader.mjs')).href;

/** A loopback server speaking the Walrus publisher + aggregator HTTP API. */
export interface WalrusPeer {
  url: string;
  blobs: Map<string, Buffer>;
  requests: { method: string; url: string }[];
  /** next PUT/GET answers this status and body instead */
  failNext?: { status: number; body: string };
  close(): Promise<void>;
}

export async function startWalrusPeer(): Promise<WalrusPeer> {
  const peer = { blobs: new Map<string, Buffer>(), requests: [] } as unknown as WalrusPeer;
  let epoch = 40;
  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const body = Buffer.concat(chunks);
    peer.requests.push({ method: req.method ?? '', url: req.url ?? '' });
    if (peer.failNext) {
      const { status, body: text } = peer.failNext;
      peer.failNext = undefined;
      res.writeHead(status, { 'content-type': 'text/plain' }).end(text);
      return;
    }
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'PUT' && url.pathname === '/v1/blobs') {
      const epochs = Number(url.searchParams.get('epochs') ?? '1');
      const blobId = createHash('sha256').update(body).digest('base64url');
      const endEpoch = epoch + epochs;
      const json = peer.blobs.has(blobId)
        ? { alreadyCertified: { blobId, event: { txDigest: 'tx', eventSeq: '0' }, endEpoch } }
        : {
            newlyCreated: {
              blobObject: {
                id: `0x${blobId.length.toString(16).padStart(64, '0')}`,
                registeredEpoch: epoch,
                blobId,
                size: body.length,
                encodingType: 'RS2',
                certifiedEpoch: epoch,
                storage: { id: '0x1', startEpoch: epoch, endEpoch, storageSize: body.length * 5 },
                deletable: false,
              },
              resourceOperation: { registerFromScratch: { encodedLength: body.length * 5, epochsAhead: epochs } },
              cost: 1000,
            },
          };
      peer.blobs.set(blobId, body);
      epoch += 1;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(json));
      return;
    }
    const m = /^\/v1\/blobs\/([A-Za-z0-9_-]+)$/.exec(url.pathname);
    if (req.method === 'GET' && m) {
      const blob = peer.blobs.get(m[1]!);
      if (!blob) res.writeHead(404, { 'content-type': 'text/plain' }).end('blob not found');
      else res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(blob);
      return;
    }
    res.writeHead(404).end();
  };
  const server: Server = createServer((req, res) => {
    handle(req, res).catch(() => res.writeHead(500).end());
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  peer.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  peer.close = () => new Promise<void>((ok) => server.close(() => ok()));
  return peer;
}

export function sapphire(args: string[], env: Record<string, string>, cwd: string) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((ok) => {
    const child = spawn(process.execPath, ['--import', TSX, join(ROOT, 'bin/sapphire.ts'), ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 60_000,
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('close', (code) => ok({ code, stdout, stderr }));
  });
}
