/**
 * `kite advise seccomp`: records the system calls of a command, a pid (with its descendants) or a
 * cgroup (with the cgroups below it), filtered in the kernel, and writes an OCI seccomp profile that
 * allows exactly those calls. Progress and the summary go to standard error; the profile goes to
 * --output or to standard output (then the command's own standard output goes to standard error).
 * Returns the exit code: 0, 2 for a usage error or an unknown pid or cgroup, 1 when recording failed,
 * and with a command, the command's own exit code (128 + signal when a signal ended it).
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, renameSync, writeFileSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { resolve } from 'node:path';
import { missingCapabilities } from '../../bpf/caps';
import { KiteError } from '../../component/errors';
import { parseDurationNs } from '../../component/formats';
import { buildProfile } from './profile';
import { loadSyscallTable } from './syscall-table';
import { callsInProgress, cgroupPopulated, cgroupProcs, childrenOf, CgroupTarget, resolveCgroup, resolvePid } from './target';

export const ADVISE_SECCOMP_HELP = `kite advise seccomp: record the system calls of a workload and write an OCI seccomp profile

Usage:
  kite advise seccomp [OPTIONS] -- COMMAND [ARGS...]   run COMMAND and record it and its children
  kite advise seccomp [OPTIONS] --pid PID              record a running process and its descendants
  kite advise seccomp [OPTIONS] --cgroup CGROUP        record a cgroup and the cgroups below it: a path
                                                       as /proc/PID/cgroup shows it, or a container id

Options:
  -o, --output FILE     write the profile to FILE (default: standard output; the command's own
                        standard output then goes to standard error)
  -d, --duration TIME   stop after TIME (500ms, 30s, 5m, 1h). Without it, the recording ends when
                        the command exits, when the pid and all its descendants have exited, or when
                        the cgroup is empty again; SIGINT (Ctrl-C) or SIGTERM end it at any time
      --errno ERRNO     what a call outside the profile returns: a name or a number (default EPERM)
      --after-seccomp   count a process's calls only once it runs under a seccomp filter: records
                        a container (run with its runtime's default profile) from before its
                        start, leaving out what the runtime (conmon, runc) does before it applies
                        the profile and keeping what it does after
  -h, --help            this text

The profile (defaultAction SCMP_ACT_ERRNO) allows by name every system call recorded; apply it with
\`podman run --security-opt seccomp=FILE ...\` or \`docker run --security-opt seccomp=FILE ...\`.
A container is best recorded from before it starts, so that the calls its runtime makes after it
applies the profile are included: --after-seccomp with --cgroup on the container's parent cgroup
(podman --cgroup-parent, docker --cgroup-parent), or with -- podman run .... Needs root, or CAP_BPF
and CAP_PERFMON (CAP_SYS_PTRACE to see the calls a process is blocked in when the recording begins).
`;

export type AdviseTarget = { kind: 'command'; argv: string[] } | { kind: 'pid'; arg: string } | { kind: 'cgroup'; arg: string };

export interface AdviseArgs {
  help: boolean;
  output?: string;
  durationMs?: number;
  errno: number;
  errnoName: string;
  afterSeccomp: boolean;
  target?: AdviseTarget;
}

const ERRNOS = osConstants.errno as Record<string, number>;

/** Parses the arguments after `kite advise seccomp`; returns the problem as a string. */
export function parseAdviseArgs(argv: string[], cwd = process.cwd()): AdviseArgs | string {
  const args: AdviseArgs = { help: false, errno: ERRNOS.EPERM!, errnoName: 'EPERM', afterSeccomp: false };
  const targets: AdviseTarget[] = [];
  for (let i = 0; i < argv.length; i++) {
    let a = argv[i]!;
    let value: string | undefined;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    if (eq > 0) {
      value = a.slice(eq + 1);
      a = a.slice(0, eq);
    }
    const next = (): string | undefined => value ?? argv[++i];
    switch (a) {
      case '--':
        if (i + 1 >= argv.length) return '-- needs a command to run';
        targets.push({ kind: 'command', argv: argv.slice(i + 1) });
        i = argv.length;
        break;
      case '-h':
      case '--help':
        args.help = true;
        break;
      case '-o':
      case '--output': {
        const v = next();
        if (!v) return `${a} needs a file path`;
        args.output = resolve(cwd, v);
        break;
      }
      case '-d':
      case '--duration': {
        const v = next();
        const ns = v === undefined ? null : parseDurationNs(v);
        if (ns === null || ns <= 0n) return `${a}: expected a duration such as 500ms, 30s or 5m, got ${JSON.stringify(v ?? '')}`;
        args.durationMs = Number(ns) / 1e6;
        break;
      }
      case '--errno': {
        const v = next() ?? '';
        if (/^[0-9]+$/.test(v) && Number(v) > 0 && Number(v) < 4096) {
          args.errno = Number(v);
          args.errnoName = Object.entries(ERRNOS).find(([, n]) => n === args.errno)?.[0] ?? v;
        } else if (ERRNOS[v.toUpperCase()] !== undefined) {
          args.errnoName = v.toUpperCase();
          args.errno = ERRNOS[args.errnoName]!;
        } else return `--errno: expected an errno name (EPERM, ENOSYS, ...) or a number from 1 to 4095, got ${JSON.stringify(v)}`;
        break;
      }
      case '--after-seccomp':
        if (value !== undefined) return `${a} takes no value`;
        args.afterSeccomp = true;
        break;
      case '-p':
      case '--pid': {
        const v = next();
        if (!v) return `${a} needs a process id`;
        targets.push({ kind: 'pid', arg: v });
        break;
      }
      case '-c':
      case '--cgroup': {
        const v = next();
        if (!v) return `${a} needs a cgroup path or a container id`;
        targets.push({ kind: 'cgroup', arg: v });
        break;
      }
      default:
        return `unknown argument ${JSON.stringify(argv[i])} (a command to record goes after --)`;
    }
  }
  if (args.help) return args;
  if (targets.length !== 1) return targets.length ? 'give one of -- COMMAND, --pid or --cgroup, not several' : 'nothing to record: give -- COMMAND, --pid PID or --cgroup CGROUP';
  args.target = targets[0]!;
  return args;
}

const SIGNALS = osConstants.signals as Record<string, number>;

interface Io {
  stdout: (s: string) => void;
  stderr: (s: string) => void;
}

const defaultIo: Io = { stdout: (s) => process.stdout.write(s), stderr: (s) => process.stderr.write(s) };

export async function adviseSeccomp(argv: string[], io: Io = defaultIo): Promise<number> {
  const say = (line: string): void => io.stderr(`kite advise seccomp: ${line}\n`);
  const parsed = parseAdviseArgs(argv);
  if (typeof parsed === 'string') {
    say(parsed);
    io.stderr('run `kite advise seccomp --help` for the usage\n');
    return 2;
  }
  if (parsed.help) {
    io.stdout(ADVISE_SECCOMP_HELP);
    return 0;
  }
  const target = parsed.target!;

  let pid = 0;
  let cgroup: CgroupTarget | undefined;
  try {
    if (target.kind === 'pid') pid = resolvePid(target.arg);
    if (target.kind === 'cgroup') cgroup = resolveCgroup(target.arg);
  } catch (e) {
    say((e as Error).message);
    return 2;
  }
  const missing = missingCapabilities(['CAP_BPF', 'CAP_PERFMON']);
  if (missing.length) {
    say(`missing capabilities ${missing.join(', ')}: recording system calls loads BPF tracing programs; run as root or grant CAP_BPF and CAP_PERFMON (see docs/capabilities.md)`);
    return 1;
  }
  if (target.kind !== 'command' && missingCapabilities(['CAP_SYS_PTRACE']).length) {
    say('without CAP_SYS_PTRACE the calls a process is blocked in when the recording begins cannot be read; they are recorded only if made again');
  }

  let table;
  try {
    table = loadSyscallTable();
  } catch (e) {
    say((e as Error).message);
    return 1;
  }
  const { setLibbpfLogger } = await import('../../bpf/object');
  const { SeccompRecorder } = await import('./recorder');
  setLibbpfLogger(() => {});

  // Signals end the recording (the profile is still written); installed before anything is loaded.
  let onStop: (why: string) => void = () => {};
  let stopReason: string | null = null;
  const stopped = new Promise<string>((res) => {
    onStop = (why) => {
      if (stopReason === null) {
        stopReason = why;
        res(why);
      }
    };
  });
  const onSignal = (sig: NodeJS.Signals): void => onStop(sig);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let recorder: InstanceType<typeof SeccompRecorder> | undefined;
  const inProgress = new Set<number>();
  let commandExit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  let exitCode = 0;
  const timers: NodeJS.Timeout[] = [];
  let started = process.hrtime.bigint();
  try {
    try {
      recorder = new SeccompRecorder(
        cgroup
          ? { kind: 'cgroup', dir: cgroup.dir, afterSeccomp: parsed.afterSeccomp }
          : { kind: 'pids', gateCommand: target.kind === 'command', afterSeccomp: parsed.afterSeccomp },
        table,
      );
    } catch (e) {
      say(`cannot load the recorder: ${(e as Error).message}`);
      return 1;
    }
    const rec = recorder;
    if (stopReason) {
      say(`${stopReason} received before the recording began: no profile written`);
      return 1;
    }

    let what = '';
    if (target.kind === 'pid') {
      // The root first, then each child before its own children: a fork after a process is tracked
      // is followed in the kernel, one before is found here.
      const queue = [pid];
      const seen = new Set<number>();
      while (queue.length) {
        const p = queue.shift()!;
        if (seen.has(p) || p === process.pid) continue; // never the recorder itself (`--pid $$` from its shell)
        seen.add(p);
        if (!rec.track(p)) say(`process ${p}: not tracked (too many processes)`);
        queue.push(...childrenOf(p));
      }
      rec.start();
      for (const p of seen) for (const nr of callsInProgress(p, parsed.afterSeccomp)) inProgress.add(nr);
      what = `pid ${pid} and its descendants (${seen.size} process${seen.size === 1 ? '' : 'es'} now)`;
    } else if (cgroup) {
      rec.start();
      for (const p of cgroupProcs(cgroup.dir)) for (const nr of callsInProgress(p, parsed.afterSeccomp)) inProgress.add(nr);
      what = `cgroup ${cgroup.path}${cgroup.containerId ? ` (container ${cgroup.containerId.slice(0, 12)})` : ''}`;
    } else if (target.kind === 'command') {
      rec.start();
      what = JSON.stringify(target.argv.join(' '));
    }
    started = process.hrtime.bigint();
    say(`recording ${what}; ${parsed.durationMs ? `for ${parsed.durationMs / 1000} s, ` : ''}Ctrl-C to stop`);
    if (parsed.durationMs) timers.push(setTimeout(() => onStop('duration'), parsed.durationMs));

    if (target.kind === 'command') {
      const child = spawn(target.argv[0]!, target.argv.slice(1), { stdio: ['inherit', parsed.output ? 'inherit' : 2, 'inherit'] });
      const exited = Promise.race([
        once(child, 'exit').then(([code, signal]) => ({ code: code as number | null, signal: signal as NodeJS.Signals | null })),
        once(child, 'error').then(([err]) => {
          throw err;
        }),
      ]);
      try {
        const r = await Promise.race([exited, stopped]);
        if (typeof r === 'object') {
          commandExit = r;
          onStop('exit');
        }
      } catch (e) {
        say(`cannot run ${JSON.stringify(target.argv[0])}: ${(e as Error).message}`);
        return (e as NodeJS.ErrnoException).code === 'ENOENT' ? 127 : 126;
      }
      if (child.pid && rec.gatedPid() !== child.pid) say(`warning: the command's process ${child.pid} was not the one tracked from its exec (${rec.gatedPid()})`);
    } else if (target.kind === 'pid') {
      // A process that exited before it was tracked never leaves the map: its /proc entry tells.
      timers.push(setInterval(() => {
        if (!rec.trackedPids().some((p) => existsSync(`/proc/${p}`))) onStop('exit');
      }, 100));
    } else {
      let wasPopulated = cgroupPopulated(cgroup!.dir) === true;
      timers.push(setInterval(() => {
        const p = cgroupPopulated(cgroup!.dir);
        // a short-lived workload may come and go between two looks: calls recorded say it was there
        if (p) wasPopulated = true;
        else if (!wasPopulated && p === false && recordedAny(rec.read())) wasPopulated = true;
        if (p === null || (wasPopulated && !p)) onStop('empty');
      }, 100));
    }
    const reason = await stopped;
    for (const t of timers) clearTimeout(t);
    rec.stop();
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const counts = rec.read();
    rec.close();
    for (const nr of inProgress) if (!counts.calls.native.has(nr)) counts.calls.native.set(nr, 1n);

    const { profile, report } = buildProfile(counts, table, parsed.errno);
    const ended =
      reason === 'exit' && commandExit ? `the command exited (${commandExit.signal ?? `code ${commandExit.code}`})`
        : reason === 'exit' ? 'every process exited'
        : reason === 'empty' ? 'the cgroup is empty'
        : reason === 'duration' ? 'the duration is over'
        : `${reason} received`;
    say(`${ended}: ${report.calls} calls of ${profile.syscalls[0]?.names.length ?? 0} system calls recorded in ${seconds < 1 ? `${Math.round(seconds * 1000)} ms` : `${seconds.toFixed(1)} s`}`);
    if (!report.calls) say(`nothing was recorded${parsed.afterSeccomp ? ': with --after-seccomp, only processes under a seccomp filter count' : ''}; the profile allows no system call`);
    if (inProgress.size) say(`${inProgress.size} call${inProgress.size === 1 ? '' : 's'} in progress when the recording began included (read from /proc/PID/task/TID/syscall)`);
    for (const abi of ['compat', 'x32'] as const) {
      const names = report.names[abi];
      if (names) say(`${abi === 'compat' ? '32-bit (compat)' : 'x32'} system calls seen, named from ${table.abis[abi]?.header ?? 'no table'}: ${names.join(', ')}; the profile adds ${table.abis[abi]?.scmpArch}`);
    }
    for (const u of report.unnamed) say(`system call ${u.nr} (${u.abi} ABI) has no name in the table from ${table.abis[u.abi]?.header ?? 'no header'} (a kernel newer than its headers?): it is not in the profile`);
    for (const [abi, n] of Object.entries(report.outOfRange)) say(`${n} call${n === 1n ? '' : 's'} with an invalid number (${abi} ABI): not in the profile`);
    if (counts.pidsFull) say(`${counts.pidsFull} processes were not tracked (more than the recorder holds): the profile may miss their calls`);

    const text = `${JSON.stringify(profile, null, 2)}\n`;
    if (parsed.output) {
      const tmp = `${parsed.output}.tmp-${process.pid}`;
      writeFileSync(tmp, text);
      renameSync(tmp, parsed.output);
      say(`profile written to ${parsed.output}: ${profile.syscalls[0]?.names.length ?? 0} system calls allowed, every other call fails with ${parsed.errnoName}`);
    } else {
      io.stdout(text);
    }
    if (commandExit) {
      exitCode = commandExit.signal ? 128 + (SIGNALS[commandExit.signal] ?? 0) : commandExit.code ?? 0;
      if (exitCode) say(`the command exited with ${commandExit.signal ?? `code ${commandExit.code}`}: the profile covers what that run did`);
    }
    return exitCode;
  } catch (e) {
    say(e instanceof KiteError ? e.message : `recording failed: ${(e as Error).stack ?? String(e)}`);
    return 1;
  } finally {
    for (const t of timers) clearTimeout(t);
    recorder?.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** Whether any call was recorded yet. */
function recordedAny(r: { calls: Record<string, Map<number, bigint>> }): boolean {
  return Object.values(r.calls).some((m) => m.size > 0);
}
