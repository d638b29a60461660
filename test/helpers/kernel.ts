/** Helpers for kernel tests: BPF objects a process holds, what the kernel still has, trigger programs. */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from './paths';

export interface BpfIds {
  progs: number[];
  maps: number[];
  links: number[];
}

/** The BPF programs, maps and links whose file descriptors process `pid` holds (from /proc fdinfo). */
export function bpfIdsOf(pid: number): BpfIds {
  const ids: BpfIds = { progs: [], maps: [], links: [] };
  const dir = `/proc/${pid}/fdinfo`;
  for (const fd of readdirSync(dir)) {
    let info: string;
    try {
      info = readFileSync(join(dir, fd), 'utf8');
    } catch {
      continue;
    }
    const link = /^link_id:\s*(\d+)/m.exec(info);
    const prog = /^prog_id:\s*(\d+)/m.exec(info);
    const map = /^map_id:\s*(\d+)/m.exec(info);
    if (link) ids.links.push(Number(link[1]));
    else if (prog) ids.progs.push(Number(prog[1]));
    else if (map) ids.maps.push(Number(map[1]));
  }
  return ids;
}

function kernelIds(kind: 'prog' | 'map' | 'link'): Set<number> {
  const out = execFileSync('bpftool', ['-j', kind, 'show'], { encoding: 'utf8', maxBuffer: 64 << 20 });
  return new Set((JSON.parse(out || '[]') as { id: number }[]).map((x) => x.id));
}

/** Which of `ids` the kernel still has. */
export function stillLoaded(ids: BpfIds): BpfIds {
  const progs = kernelIds('prog');
  const maps = kernelIds('map');
  const links = kernelIds('link');
  return { progs: ids.progs.filter((i) => progs.has(i)), maps: ids.maps.filter((i) => maps.has(i)), links: ids.links.filter((i) => links.has(i)) };
}

/** Polls until none of `ids` is left in the kernel (programs are freed after an RCU grace period). */
export async function waitUnloaded(ids: BpfIds, timeoutMs = 5000): Promise<BpfIds> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = stillLoaded(ids);
    if (!left.progs.length && !left.maps.length && !left.links.length) return left;
    if (Date.now() > end) return left;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** Compiles test/kernel/<name>.c into build/test/<name> when it is missing or stale; returns its path. */
export function buildTestProgram(name: string): string {
  const src = join(ROOT, 'test', 'kernel', `${name}.c`);
  const out = join(ROOT, 'build', 'test', name);
  if (!existsSync(out) || statSync(out).mtimeMs < statSync(src).mtimeMs) {
    mkdirSync(join(ROOT, 'build', 'test'), { recursive: true });
    execFileSync('gcc', ['-O1', '-Wall', '-o', out, src]);
  }
  return out;
}

/**
 * Time limits of kernel tests scale with KITE_TIME_SCALE (default 1): the qemu guest runs under
 * software emulation, several times slower. Timing promises are checked on the host, at scale 1.
 */
export const TIME_SCALE = Math.max(1, Number(process.env.KITE_TIME_SCALE ?? 1) || 1);
export const ms = (n: number): number => n * TIME_SCALE;

export async function waitFor<T>(fn: () => T | undefined | Promise<T | undefined>, timeoutMs: number, what: string): Promise<T> {
  timeoutMs = ms(timeoutMs);
  const end = Date.now() + timeoutMs;
  for (;;) {
    // awaited: an async `fn` gives a promise, which is not an answer
    const v = await fn();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
