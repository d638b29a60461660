#!/usr/bin/env -S node --max-semi-space-size=4
/**
 * The `kite` command line; the only place that calls process.exit().
 *   kite run [--config FILE]       run the agent (default: the package's config/default.yaml)
 *   kite validate [--config FILE]  check a config without privileges; one line per problem
 *   kite replay --config FILE EVENTS.ndjson   run recorded records through the config, no kernel
 */
import { resolve, join } from 'node:path';
import { readFileSync } from 'node:fs';
import { ConfigError, formatProblem, KiteError } from './component/errors';
import { createLogger, Logger } from './component/logger';
import { KiteConfig, readConfigFile, resolveConfig } from './pipeline/config';
import { createRegistry } from './registry';
import { PACKAGE_ROOT } from './bpf/paths';

const DEFAULT_CONFIG = join(PACKAGE_ROOT, 'config', 'default.yaml');

const HELP = `kite: eBPF security telemetry, in a collector-style pipeline

Usage:
  kite run [--config FILE] [--watch-config]
                                  run the agent (needs root or CAP_BPF, CAP_PERFMON, ...);
                                  SIGHUP (or, with --watch-config, a change of FILE) reloads it
  kite validate [--config FILE]   check a config; prints one line per problem, exits 2 if any
  kite probe [--config FILE]      what this kernel lets Kite run, and why not; exits 1 when a
                                  receiver of the config cannot run
  kite advise seccomp [OPTIONS] (-- COMMAND... | --pid PID | --cgroup CGROUP)
                                  record a workload's system calls and write an OCI seccomp
                                  profile that allows them (--help for the options)
  kite replay [--config FILE] EVENTS.ndjson
                                  run a recorded file (what the file exporter writes) through the
                                  config's processors (rules included, enrich left out) and
                                  exporters, with no kernel and no privileges; malformed lines are
                                  counted and reported on standard error; exits 0 at the end
  kite --help                     this text
  kite --version                  the agent's version

--config FILE is relative to the working directory; the default is ${DEFAULT_CONFIG}
(the exec receiver to the console exporter). Records go to standard output (console
exporter) or to their exporters; the agent's own log goes to standard error as JSON lines.
Environment: KITE_LOG_LEVEL=debug|info|warn|error (default info).
`;

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_CONFIG = 2;

interface Args {
  command: string;
  config: string;
  watch: boolean;
  /** Positional arguments after the command (replay: the events file). */
  operands: string[];
}

function parseArgs(argv: string[]): Args | string {
  let command = '';
  let config = DEFAULT_CONFIG;
  let watch = false;
  const operands: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--config' || a === '-c') {
      const v = argv[++i];
      if (!v) return `${a} needs a file path`;
      config = resolve(process.cwd(), v);
    } else if (a.startsWith('--config=')) {
      config = resolve(process.cwd(), a.slice('--config='.length));
    } else if (a === '--watch-config') {
      watch = true;
    } else if (a === '--help' || a === '-h' || a === 'help') {
      command = 'help';
    } else if (a === '--version' || a === '-v' || a === 'version') {
      command = 'version';
    } else if (!command && !a.startsWith('-')) {
      command = a;
    } else if (command === 'replay' && (!a.startsWith('-') || a === '-')) {
      operands.push(a);
    } else {
      return `unknown argument ${JSON.stringify(a)}`;
    }
  }
  return { command: command || 'help', config, watch, operands };
}

function loadConfig(path: string): KiteConfig {
  return resolveConfig(readConfigFile(path), createRegistry());
}

function printConfigError(e: unknown, path: string): boolean {
  if (e instanceof ConfigError) {
    process.stderr.write(`${path}: ${e.problems.length} problem${e.problems.length === 1 ? '' : 's'}\n`);
    for (const p of e.problems) process.stderr.write(`${formatProblem(p)}\n`);
    return true;
  }
  if (e instanceof KiteError && e.code === 'config_unreadable') {
    process.stderr.write(`${e.message}\n`);
    return true;
  }
  return false;
}

/** The config at `path`, or null once its problems are printed to standard error. */
function loadConfigOrReport(path: string): KiteConfig | null {
  try {
    return loadConfig(path);
  } catch (e) {
    if (printConfigError(e, path)) return null;
    throw e;
  }
}

async function validate(path: string): Promise<number> {
  const cfg = loadConfigOrReport(path);
  if (!cfg) return EXIT_CONFIG;
  process.stdout.write(`${path}: valid (${cfg.pipelines.length} pipeline${cfg.pipelines.length === 1 ? '' : 's'}: ${cfg.pipelines.map((p) => p.name).join(', ')})\n`);
  return EXIT_OK;
}

async function probe(path: string): Promise<number> {
  const cfg = loadConfigOrReport(path);
  if (!cfg) return EXIT_CONFIG;
  const { setLibbpfLogger } = await import('./bpf/object');
  const { runProbe } = await import('./commands/probe');
  setLibbpfLogger(() => {});
  process.stdout.write(`config        ${path}\n`);
  return runProbe(cfg, (line) => process.stdout.write(`${line}\n`));
}

async function replay(path: string, operands: string[]): Promise<number> {
  if (operands.length !== 1) {
    process.stderr.write(`kite replay: needs exactly one events file (NDJSON, as the file exporter writes it)\n\n${HELP}`);
    return EXIT_CONFIG;
  }
  const cfg = loadConfigOrReport(path);
  if (!cfg) return EXIT_CONFIG;
  const { runReplay } = await import('./commands/replay');
  const file = operands[0] === '-' ? '/dev/stdin' : resolve(process.cwd(), operands[0]!);
  return runReplay(cfg, file, createLogger(), (line) => process.stderr.write(`${line}\n`));
}

async function run(path: string, logger: Logger, watch: boolean): Promise<number> {
  const cfg = loadConfigOrReport(path);
  if (!cfg) return EXIT_CONFIG;
  // Loaded only for `run`: validate needs no libbpf and no privileges.
  const { setLibbpfLogger } = await import('./bpf/object');
  const { Service, createHost } = await import('./pipeline/service');
  const { Telemetry } = await import('./pipeline/telemetry');
  setLibbpfLogger((level, msg) => logger[level]('libbpf', { detail: msg.replace(/^libbpf: /, '') }));
  const host = createHost(logger);
  const service = new Service(cfg, host);
  const telemetry = new Telemetry(host.stats, logger);
  telemetry.setReadiness(() => service.readiness());
  telemetry.setHealth(() => service.healthProblems());
  if (cfg.telemetry.enabled && cfg.telemetry.bpf_stats) {
    const { enableRunTimeStats } = await import('./bpf/prog-stats');
    const s = enableRunTimeStats();
    if (s.on) logger.info('BPF program run-time statistics on', { how: s.how });
    else logger.warn('BPF program run counts and times not available', { reason: s.reason });
  }
  if (cfg.telemetry.enabled) {
    try {
      await telemetry.start(cfg.telemetry.address);
    } catch (e) {
      logger.error('telemetry disabled: its address is not usable', { error: (e as Error).message });
    }
  }

  let stopping = false;
  const stopped = new Promise<number>((resolveStop) => {
    const onSignal = (sig: NodeJS.Signals): void => {
      if (stopping) {
        logger.warn('second signal: exiting without a clean shutdown', { signal: sig });
        process.exit(EXIT_RUNTIME);
      }
      stopping = true;
      logger.info('stopping', { signal: sig });
      const deadline = setTimeout(() => {
        logger.error('shutdown took longer than 10s: exiting');
        process.exit(EXIT_RUNTIME);
      }, 10_000);
      deadline.unref();
      telemetry.setReady(false);
      service.shutdown().then(async () => {
        await telemetry.stop();
        logger.info('stopped', { stats: host.stats.snapshot() });
        resolveStop(EXIT_OK);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });

  try {
    await service.start();
  } catch (e) {
    await telemetry.stop();
    logger.error('start failed', { error: (e as Error).message, code: (e as KiteError).code });
    process.stderr.write(`kite: start failed: ${(e as Error).message}\n`);
    return EXIT_RUNTIME;
  }
  if (stopping) return stopped;
  telemetry.setReady(true);

  // Reload: a bad new config is rejected with its problems while the running one carries on.
  let current = cfg;
  const reload = async (reason: string): Promise<void> => {
    if (stopping) return;
    let next: KiteConfig;
    try {
      next = loadConfig(path);
    } catch (e) {
      const problems = e instanceof ConfigError ? e.problems.map(formatProblem) : [(e as Error).message];
      logger.error('reload rejected: the running config stays', { reason, config: path, problems });
      return;
    }
    if (JSON.stringify(next.telemetry) !== JSON.stringify(current.telemetry)) {
      logger.warn('service.telemetry changes take effect at the next start', { reason });
    }
    logger.info('reloading', { reason, config: path });
    try {
      await service.reload(next);
      current = next;
    } catch (e) {
      logger.error('reload failed: the running config stays', { reason, error: (e as Error).message });
    }
  };
  process.on('SIGHUP', () => void reload('SIGHUP'));
  if (watch) {
    const { watchFile } = await import('node:fs');
    watchFile(path, { interval: 1000 }, (cur, prev) => {
      if (cur.mtimeMs !== prev.mtimeMs) void reload('config file changed');
    });
  }

  logger.info('ready', {
    config: path,
    pipelines: cfg.pipelines.map((p) => p.name),
    receivers: [...cfg.receivers.keys()],
    exporters: [...cfg.exporters.keys()],
  });
  const statsTimer = setInterval(() => logger.info('stats', { stats: host.stats.snapshot() }), 60_000);
  statsTimer.unref();
  return stopped;
}

async function main(argv: string[]): Promise<number> {
  if (argv[0] === 'advise') {
    // Sub-commands with their own options (and a command line of their own after --).
    if (argv[1] === 'seccomp') return (await import('./commands/seccomp/advise')).adviseSeccomp(argv.slice(2));
    const help = argv[1] === undefined || argv[1] === '--help' || argv[1] === '-h';
    process.stderr.write(`${help ? '' : `kite advise: unknown subject ${JSON.stringify(argv[1])}\n`}Usage: kite advise seccomp [OPTIONS] (-- COMMAND... | --pid PID | --cgroup CGROUP); kite advise seccomp --help\n`);
    return help ? EXIT_OK : EXIT_CONFIG;
  }
  const args = parseArgs(argv);
  if (typeof args === 'string') {
    process.stderr.write(`kite: ${args}\n\n${HELP}`);
    return EXIT_CONFIG;
  }
  switch (args.command) {
    case 'help':
      process.stdout.write(HELP);
      return EXIT_OK;
    case 'version':
      process.stdout.write(`${JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version}\n`);
      return EXIT_OK;
    case 'validate':
      return validate(args.config);
    case 'run':
      return run(args.config, createLogger(), args.watch);
    case 'probe':
      return probe(args.config);
    case 'replay':
      return replay(args.config, args.operands);
    default:
      process.stderr.write(`kite: unknown command ${JSON.stringify(args.command)}\n\n${HELP}`);
      return EXIT_CONFIG;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      // Let stdout drain (records) before leaving.
      if (process.stdout.writableLength) process.stdout.once('drain', () => process.exit(code));
      else process.exit(code);
    },
    (e) => {
      process.stderr.write(`kite: ${(e as Error)?.stack ?? String(e)}\n`);
      process.exit(EXIT_RUNTIME);
    },
  );
}
