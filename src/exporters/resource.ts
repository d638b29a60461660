/**
 * The resource every exported record is attributed to, in OpenTelemetry semantic-convention names:
 * `service.name`, `service.version` (the agent's version), `host.name`, `host.arch`, `os.type`,
 * `os.version` (the kernel release), plus whatever the Host adds.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { arch, hostname, release } from 'node:os';
import { AttrValue, Host } from '../component/component';
import { PACKAGE_ROOT } from '../bpf/paths';

let version: string | undefined;

/** The agent's version, from its package.json. */
export function agentVersion(): string {
  if (version === undefined) {
    try {
      version = String(JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')).version);
    } catch {
      version = 'unknown';
    }
  }
  return version;
}

const ARCH: Record<string, string> = { x64: 'amd64', arm64: 'arm64', arm: 'arm32', ia32: 'x86', ppc64: 'ppc64', s390x: 's390x' };

export function resourceAttributes(host: Host, serviceName: string): Record<string, AttrValue> {
  return {
    'service.name': serviceName,
    'service.version': agentVersion(),
    'host.name': hostname(),
    'host.arch': ARCH[arch()] ?? arch(),
    'os.type': 'linux',
    'os.version': release(),
    ...host.resource,
  };
}
