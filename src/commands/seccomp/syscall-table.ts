/**
 * System call names by number, per ABI of this machine's architecture, taken from the kernel's UAPI
 * headers (linux-libc-dev: asm/unistd_64.h, asm/unistd_32.h, asm/unistd_x32.h on x86_64, asm/unistd.h
 * on arm64) through the C preprocessor. `make build` writes the table to build/bpf/syscalls.json
 * (`node dist/src/commands/seccomp/syscall-table.js`); at run time the table is read from there, and
 * generated on the spot only when that file is missing.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { bpfObjectPath } from '../../bpf/paths';
import { KiteError } from '../../component/errors';

export type Abi = 'native' | 'compat' | 'x32';
export const ABIS: readonly Abi[] = ['native', 'compat', 'x32'];

export interface AbiTable {
  /** The libseccomp architecture name an OCI profile uses (`architectures`). */
  scmpArch: string;
  /** The header the names come from; absent when this machine has no header for the ABI. */
  header?: string;
  /** number -> name */
  names: Record<number, string>;
}

export interface SyscallTable {
  /** `process.arch` of the machine the table was made for. */
  arch: string;
  abis: Partial<Record<Abi, AbiTable>>;
}

interface AbiSource {
  abi: Abi;
  header: string | null;
  scmpArch: string;
  /** A bit the header's numbers carry and the ABI's slot drops (x32's __X32_SYSCALL_BIT). */
  strip?: number;
  /** Preprocessor definitions that select the ABI's header. */
  defines?: string[];
}

const SOURCES: Record<string, AbiSource[]> = {
  x64: [
    { abi: 'native', header: 'asm/unistd_64.h', scmpArch: 'SCMP_ARCH_X86_64' },
    { abi: 'compat', header: 'asm/unistd_32.h', scmpArch: 'SCMP_ARCH_X86' },
    // asm/unistd.h picks unistd_x32.h for __ILP32__ and defines the __X32_SYSCALL_BIT its numbers use
    { abi: 'x32', header: 'asm/unistd.h', defines: ['__ILP32__'], scmpArch: 'SCMP_ARCH_X32', strip: 0x40000000 },
  ],
  arm64: [
    { abi: 'native', header: 'asm/unistd.h', scmpArch: 'SCMP_ARCH_AARCH64' },
    // Debian's arm64 linux-libc-dev has no 32-bit arm header: compat calls are reported by number.
    { abi: 'compat', header: null, scmpArch: 'SCMP_ARCH_ARM' },
  ],
};

export const SUPPORTED_ARCHS = Object.keys(SOURCES);

/** Not system calls: counts and bases the generic header defines with the same prefix. */
const NOT_SYSCALLS = new Set(['syscalls', 'arch_specific_syscall', 'SYSCALL_BASE']);

/**
 * Parses `#define __NR_<name> <expr>` lines (the output of `cc -E -dM`), resolving references to
 * other macros and `+` (arm64's __NR3264_* indirections, x32's `__X32_SYSCALL_BIT + n`).
 */
export function parseUnistdDefines(text: string, strip = 0): Record<number, string> {
  const macros = new Map<string, string>();
  for (const line of text.split('\n')) {
    const m = /^#define\s+([A-Za-z_][A-Za-z0-9_]*)\s+(.+?)\s*$/.exec(line);
    if (m) macros.set(m[1]!, m[2]!);
  }
  const evaluate = (expr: string, depth: number): number | undefined => {
    if (depth > 8) return undefined;
    let total = 0;
    for (const raw of expr.replace(/[()]/g, ' ').split('+')) {
      const term = raw.trim();
      const num = /^(0x[0-9a-fA-F]+|[0-9]+)[uUlL]*$/.exec(term);
      if (num) total += Number(num[1]);
      else if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(term) && macros.has(term)) {
        const v = evaluate(macros.get(term)!, depth + 1);
        if (v === undefined) return undefined;
        total += v;
      } else return undefined;
    }
    return total;
  };
  const names: Record<number, string> = {};
  for (const [macro, expr] of macros) {
    if (!macro.startsWith('__NR_')) continue;
    const name = macro.slice('__NR_'.length);
    if (NOT_SYSCALLS.has(name)) continue;
    const nr = evaluate(expr, 0);
    if (nr === undefined || nr < 0) continue;
    const key = strip ? nr & ~strip : nr;
    // Keep the first name of a number in header order (aliases are rare: arm64's sync_file_range2).
    names[key] ??= name;
  }
  return names;
}

/** Runs the C preprocessor on one UAPI header; returns its macro definitions. */
function preprocess(header: string, defines: string[] = []): string {
  const cc = process.env.CC ?? 'cc';
  return execFileSync(cc, ['-E', '-dM', ...defines.map((d) => `-D${d}`), '-x', 'c', '-'], { input: `#include <${header}>\n`, encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'] });
}

/** Builds the table for `arch` from the installed UAPI headers. */
export function generateSyscallTable(arch: string = process.arch): SyscallTable {
  const sources = SOURCES[arch];
  if (!sources) throw new KiteError('not_supported', `syscall table: no UAPI headers known for architecture ${arch} (have ${SUPPORTED_ARCHS.join(', ')})`);
  const table: SyscallTable = { arch, abis: {} };
  for (const s of sources) {
    let names: Record<number, string> = {};
    if (s.header) {
      try {
        names = parseUnistdDefines(preprocess(s.header, s.defines), s.strip);
      } catch (e) {
        throw new KiteError('syscall_table', `syscall table: cannot read <${s.header}> with the C preprocessor (install linux-libc-dev and a C compiler): ${(e as Error).message.split('\n')[0]}`, { cause: e });
      }
      if (!Object.keys(names).length) throw new KiteError('syscall_table', `syscall table: <${s.header}> defines no __NR_ names`);
    }
    const header = s.header && `${s.header}${s.defines?.length ? ` (${s.defines.join(' ')})` : ''}`;
    table.abis[s.abi] = { scmpArch: s.scmpArch, ...(header ? { header } : {}), names };
  }
  return table;
}

export function syscallTablePath(): string {
  return `${dirname(bpfObjectPath('seccomp_advise'))}/syscalls.json`;
}

/** The table made at build time for this machine, or one generated now when there is none. */
export function loadSyscallTable(path = syscallTablePath()): SyscallTable {
  if (existsSync(path)) {
    const t = JSON.parse(readFileSync(path, 'utf8')) as SyscallTable;
    if (t.arch === process.arch) return t;
  }
  return generateSyscallTable();
}

if (require.main === module) {
  process.stdout.write(`${JSON.stringify(generateSyscallTable(process.argv[2] ?? process.arch))}\n`);
}
