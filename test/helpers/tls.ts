/**
 * TLS material for the peers' secure listeners, made with openssl for one test file: a CA, a server
 * certificate for 127.0.0.1 (and localhost) and a client certificate, all signed by the CA, plus a
 * second CA that signed none of them (a client that trusts only it must refuse the server).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TlsFiles {
  dir: string;
  ca: string;
  /** A CA that signed nothing here. */
  otherCa: string;
  serverCert: string;
  serverKey: string;
  /** The server's key and certificate in one PEM file (Kafka's PEM keystore). */
  serverPem: string;
  clientCert: string;
  clientKey: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

/** Writes the files into `dir` (which must exist). */
export function makeTls(dir: string): TlsFiles {
  const days = '2';
  const ca = (name: string): void => {
    openssl(dir, ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.crt`, '-subj', `/CN=kite test ${name}`, '-days', days]);
  };
  const leaf = (name: string, cn: string, ext: string): void => {
    writeFileSync(join(dir, `${name}.ext`), ext);
    openssl(dir, ['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`]);
    openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.crt`, '-days', days, '-extfile', `${name}.ext`]);
  };
  ca('ca');
  ca('other-ca');
  leaf('server', '127.0.0.1', 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  leaf('client', 'kite-agent', 'extendedKeyUsage=clientAuth\n');
  const serverPem = join(dir, 'server.pem');
  writeFileSync(serverPem, Buffer.concat([readFileSync(join(dir, 'server.key')), readFileSync(join(dir, 'server.crt'))]));
  return {
    dir,
    ca: join(dir, 'ca.crt'),
    otherCa: join(dir, 'other-ca.crt'),
    serverCert: join(dir, 'server.crt'),
    serverKey: join(dir, 'server.key'),
    serverPem,
    clientCert: join(dir, 'client.crt'),
    clientKey: join(dir, 'client.key'),
  };
}
