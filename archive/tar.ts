import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';

/**
 * A directory as a gzip-compressed POSIX ustar archive (`tar xzf` opens it). Deterministic: files
 * sorted by path, mtime 0, owner 0/0, mode 0644/0755, so the same directory gives the same bytes
 * and Walrus answers `alreadyCertified` instead of storing a copy.
 */
export interface TarEntry {
  path: string;
  data: Uint8Array;
}

const BLOCK = 512;

/** Regular files under `dir` (recursively, symlinks skipped), sorted, minus `exclude` (relative paths). */
export function collectFiles(dir: string, exclude: ReadonlySet<string> = new Set()): TarEntry[] {
  const out: TarEntry[] = [];
  const walk = (current: string) => {
    for (const entry of readdirSync(current, { withFileTypes: true })) {
      const full = join(current, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) {
        const rel = relative(dir, full).split(sep).join('/');
        if (!exclude.has(rel)) out.push({ path: rel, data: readFileSync(full) });
      }
    }
  };
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a directory`);
  walk(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

function writeString(block: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, 'utf8');
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  bytes.copy(block, offset);
}

function writeOctal(block: Buffer, offset: number, length: number, value: number): void {
  // length-1 octal digits, then NUL
  writeString(block, offset, length, value.toString(8).padStart(length - 1, '0') + '\0');
}

/** ustar splits names over 100 bytes into prefix (≤155) "/" name (≤100). */
function splitName(path: string): { name: string; prefix: string } {
  if (Buffer.byteLength(path) <= 100) return { name: path, prefix: '' };
  for (let i = path.indexOf('/'); i >= 0; i = path.indexOf('/', i + 1)) {
    const prefix = path.slice(0, i);
    const name = path.slice(i + 1);
    if (Buffer.byteLength(prefix) <= 155 && Buffer.byteLength(name) <= 100 && name !== '') return { name, prefix };
  }
  throw new Error(`path too long for a tar archive: ${path}`);
}

function header(path: string, size: number): Buffer {
  const block = Buffer.alloc(BLOCK, 0);
  const { name, prefix } = splitName(path);
  writeString(block, 0, 100, name);
  writeOctal(block, 100, 8, 0o644);
  writeOctal(block, 108, 8, 0);
  writeOctal(block, 116, 8, 0);
  writeOctal(block, 124, 12, size);
  writeOctal(block, 136, 12, 0);
  block.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  block[156] = 0x30; // '0' regular file
  writeString(block, 257, 6, 'ustar\0');
  writeString(block, 263, 2, '00');
  writeString(block, 345, 155, prefix);
  let sum = 0;
  for (const byte of block) sum += byte;
  writeString(block, 148, 8, sum.toString(8).padStart(6, '0') + '\0 ');
  return block;
}

export function tarBytes(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    parts.push(header(entry.path, entry.data.length), Buffer.from(entry.data));
    const pad = (BLOCK - (entry.data.length % BLOCK)) % BLOCK;
    if (pad > 0) parts.push(Buffer.alloc(pad, 0));
  }
  parts.push(Buffer.alloc(BLOCK * 2, 0)); // end of archive
  return Buffer.concat(parts);
}

export function tarGz(entries: readonly TarEntry[]): Buffer {
  // gzip header mtime is 0 with zlib, so the bytes stay deterministic
  return gzipSync(tarBytes(entries), { level: 9 });
}

function readString(block: Buffer, offset: number, length: number): string {
  const field = block.subarray(offset, offset + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/**
 * Reads back the regular files of a ustar .tar.gz (the ones tarGz writes). Refuses what it did
 * not write: absolute or `..` paths, other entry types, a checksum that does not add up.
 */
export function untarGz(data: Buffer): TarEntry[] {
  let tar: Buffer;
  try {
    tar = gunzipSync(data);
  } catch (error) {
    throw new Error(`not a gzip file (${(error as Error).message})`);
  }
  const entries: TarEntry[] = [];
  for (let offset = 0; offset + BLOCK <= tar.length;) {
    const block = tar.subarray(offset, offset + BLOCK);
    if (block.every((b) => b === 0)) break; // end of archive
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    if (parseInt(readString(block, 148, 8).trim(), 8) !== sum)
      throw new Error(`tar header at byte ${offset}: bad checksum`);
    const name = readString(block, 0, 100);
    const prefix = readString(block, 345, 155);
    const path = prefix === '' ? name : `${prefix}/${name}`;
    const size = parseInt(readString(block, 124, 12).trim() || '0', 8);
    const type = String.fromCharCode(block[156]!);
    if (type !== '0' && type !== '\0') throw new Error(`tar entry ${path}: only regular files are expected`);
    if (path.startsWith('/') || path.split('/').includes('..')) throw new Error(`tar entry ${path}: unsafe path`);
    if (offset + BLOCK + size > tar.length) throw new Error(`tar entry ${path}: truncated`);
    entries.push({ path, data: Buffer.from(tar.subarray(offset + BLOCK, offset + BLOCK + size)) });
    offset += BLOCK + Math.ceil(size / BLOCK) * BLOCK;
  }
  return entries;
}
