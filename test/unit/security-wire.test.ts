/** The security decoder and record builder on records captured from the real program (test/testdata/security/README.md). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { TESTDATA } from '../helpers/paths';
import { testHost } from '../helpers/host';
import { settings } from '../helpers/settings';
import { parseComponentId } from '../../src/component/component';
import { decodeSecurity, SECURITY_EVENT, SecurityFlags, SecurityKind, SecurityOp, SecurityWire } from '../../src/receivers/security/wire';
import { capNames, SecurityReceiver } from '../../src/receivers/security/receiver';
import { securityFactory } from '../../src/receivers/security/factory';
import { toSecurityConfig } from '../../src/receivers/security/config';

const fixture = (name: string): Buffer => Buffer.from(readFileSync(join(TESTDATA, 'security', name), 'utf8').trim(), 'hex');

function decode(name: string): SecurityWire {
  const buf = fixture(name);
  const w = decodeSecurity(buf, 0, buf.length);
  assert.equal(typeof w, 'object', `decoded, not ${String(w)}`);
  return w as SecurityWire;
}

const rx = new SecurityReceiver(parseComponentId('security')!, testHost(), toSecurityConfig(settings(securityFactory, {})));
const record = (name: string) => rx.toRecord(decode(name));

test('exec of a set-user-ID-root binary by nobody: credentials before and after, the path as passed', () => {
  const w = decode('exec-setuid.hex');
  assert.equal(w.op, SecurityOp.PROCESS_PRIVILEGE_CHANGE);
  assert.equal(w.kind, SecurityKind.EXECVE);
  assert.equal(w.result, 0);
  assert.equal(w.before.uid, 65534);
  assert.equal(w.before.euid, 65534);
  assert.equal(w.after.uid, 65534);
  assert.equal(w.after.euid, 0);
  assert.equal(w.after.suid, 0);
  assert.equal(w.flags & SecurityFlags.CREDS_CHANGED, SecurityFlags.CREDS_CHANGED);
  const r = record('exec-setuid.hex');
  assert.equal(r['event.name'], 'process.privilege_change');
  assert.equal(r['kite.syscall'], 'execve');
  assert.equal(r['process.executable.path'], '/tmp/kite-cap-xwsFvR/privtool');
  assert.equal(r['process.executable.name'], 'privtool');
  assert.equal(r['process.user.id'], 0);
  assert.equal(r['process.user.name'], 'root');
  assert.equal(r['process.real_user.id'], 65534);
  assert.equal(r['kite.process.before.user.id'], 65534);
});

test('setresuid(-1, 65534, -1) from a set-user-ID program: requested ids, every effective capability lost', () => {
  const r = record('setresuid-drop.hex');
  assert.equal(r['kite.syscall'], 'setresuid');
  assert.deepEqual(r['kite.privilege.requested_ids'], [-1, 65534, -1]);
  assert.equal(r['kite.process.before.user.id'], 0);
  assert.equal(r['process.user.id'], 65534);
  assert.equal(r['process.saved_user.id'], 0, 'the saved uid keeps the way back');
  assert.equal(r['process.user.name'], 'nobody');
  assert.equal(r['kite.process.capabilities.effective'], '0x0000000000000000');
  assert.deepEqual(r['kite.process.capabilities.removed'], capNames(BigInt(r['kite.process.before.capabilities.effective'] as string)), 'every one it had');
  assert.ok((r['kite.process.capabilities.removed'] as string[]).includes('CAP_SYS_ADMIN'));
  assert.equal(r['kite.process.capabilities.added'], undefined);
});

test('capset: CAP_NET_RAW removed from the effective set', () => {
  const r = record('capset.hex');
  assert.equal(r['kite.syscall'], 'capset');
  assert.deepEqual(r['kite.process.capabilities.removed'], ['CAP_NET_RAW']);
  assert.equal(r['kite.process.capabilities.effective'], '0x000001fffeffdfff');
  assert.equal(r['kite.process.before.capabilities.effective'], '0x000001fffeffffff');
  assert.deepEqual(capNames(0x3n), ['CAP_CHOWN', 'CAP_DAC_OVERRIDE']);
});

test('ptrace attach and process_vm_writev: the target process', () => {
  const a = record('ptrace-attach.hex');
  assert.equal(a['event.name'], 'process.ptrace');
  assert.equal(a['kite.ptrace.request'], 'attach');
  assert.equal(a['kite.target.process.pid'], 17996);
  assert.equal(a['kite.target.process.executable.name'], 'privtool');
  assert.equal(a['kite.target.process.comm'], 'privtool');
  assert.equal(a['kite.process.before.user.id'], undefined, 'credentials unchanged: no before.*');
  const v = record('vm-writev.hex');
  assert.equal(v['event.name'], 'process.vm_write');
  assert.equal(v['kite.target.process.pid'], 17996);
  assert.equal(v['kite.vm_write.bytes'], 8);
  assert.equal(v['kite.target.process.comm'], undefined, 'no kernel lookup of a process_vm_writev target');
});

test('listen: address, port, transport and backlog from the bound socket', () => {
  const r = record('listen.hex');
  assert.equal(r['event.name'], 'network.listen');
  assert.equal(r['kite.network.operation'], 'listen');
  assert.equal(r['network.local.address'], '127.0.0.1');
  assert.equal(r['network.local.port'], 45999);
  assert.equal(r['network.transport'], 'tcp');
  assert.equal(r['network.type'], 'ipv4');
  assert.equal(r['kite.network.listen.backlog'], 7);
});

test('unshare and mount: namespace kinds, inode numbers before and after, the tmpfs in the new namespace', () => {
  const u = record('unshare.hex');
  assert.equal(u['event.name'], 'namespace.change');
  assert.deepEqual(u['kite.namespace.kinds'], ['mnt', 'net']);
  assert.equal(u['kite.namespace.mnt.before'], 4026531832);
  assert.equal(u['kite.namespace.mnt.after'], 4026532177);
  assert.equal(u['kite.namespace.net.after'], 4026532178);
  assert.equal(u['kite.namespace.uts.before'], undefined, 'only the kinds involved');
  const m = record('mount-tmpfs.hex');
  assert.equal(m['event.name'], 'namespace.mount');
  assert.equal(m['kite.mount.source'], 'kite-tmpfs');
  assert.equal(m['kite.mount.fs_type'], 'tmpfs');
  assert.equal(m['kite.mount.target'], '/tmp/kite-cap-xwsFvR/mnt');
  assert.equal(m['kite.namespace.mnt.id'], 4026532177);
});

test('module load refused by the kernel: the refusal is the event', () => {
  const r = record('finit-module-refused.hex');
  assert.equal(r['event.name'], 'kernel.module_load');
  assert.equal(r['kite.result'], 38);
  assert.equal(r['kite.result.error'], 'ENOSYS');
  assert.equal(r['file.name'], 'privtool');
  assert.equal(r['kite.module.params'], 'kite_param=1');
});

test('BPF program load by bpftool: command, type, name and the new program id', () => {
  const r = record('bpf-prog-load.hex');
  assert.equal(r['event.name'], 'kernel.bpf_load');
  assert.equal(r['kite.bpf.command'], 'prog_load');
  assert.equal(r['kite.bpf.program.type'], 'socket_filter');
  assert.equal(r['kite.bpf.program.name'], 'kite_sec_probe');
  assert.equal(r['kite.bpf.program.id'], 7711);
  assert.equal(r['kite.process.comm'], 'bpftool');
  assert.equal(r['kite.result'], 0, 'the new fd is a success');
});

test('malformed records are reported, never thrown', () => {
  const good = fixture('listen.hex');
  assert.equal(good.length, SECURITY_EVENT.size);
  assert.equal(decodeSecurity(good, 0, 10), 'short_record');
  const badOp = Buffer.from(good);
  badOp.writeUInt16LE(3, 0);
  assert.equal(decodeSecurity(badOp, 0, badOp.length), 'unknown_op');
  const badSize = Buffer.from(good);
  badSize.writeUInt16LE(100, 2);
  assert.equal(decodeSecurity(badSize, 0, badSize.length), 'bad_size');
  const badKind = Buffer.from(good);
  badKind.writeUInt32LE(200, SECURITY_EVENT.fields.kind.offset);
  assert.equal(decodeSecurity(badKind, 0, badKind.length), 'unknown_kind');
  const unterminated = Buffer.from(good);
  unterminated.fill(0x41, SECURITY_EVENT.fields.str.offset);
  const w = decodeSecurity(unterminated, 0, unterminated.length) as SecurityWire;
  assert.equal(w.str[0].length, 256, 'strings are read with a maximum');
  for (let len = 0; len < good.length; len += 37) assert.doesNotThrow(() => decodeSecurity(good.subarray(0, len), 0, len));
  for (const f of ['exec-setuid.hex', 'capset.hex', 'unshare.hex', 'bpf-prog-load.hex']) assert.doesNotThrow(() => JSON.stringify(record(f)));
});

test('the new mount API: fsconfig create, fsmount, move_mount, mount_setattr and open_tree clone name the file system, paths and attributes', () => {
  const dir = '/tmp/kite-newapi-Ijz36R';
  const create = record('fsconfig-create.hex');
  assert.equal(create['event.name'], 'namespace.mount');
  assert.equal(create['kite.mount.operation'], 'fsconfig');
  assert.equal(create['kite.mount.fsconfig.command'], 'create');
  assert.equal(create['kite.mount.fs_type'], 'tmpfs');
  assert.equal(create['kite.mount.source'], 'kite-newapi');
  const fsmount = record('fsmount.hex');
  assert.deepEqual(fsmount['kite.mount.attributes'], ['nosuid', 'nodev']);
  assert.equal(fsmount['kite.mount.source'], 'kite-newapi');
  assert.equal(typeof fsmount['kite.mount.fd'], 'number');
  const move = record('move-mount.hex');
  assert.equal(move['kite.mount.operation'], 'move_mount');
  assert.equal(move['kite.mount.target'], dir);
  assert.equal(move['kite.mount.source'], '/', 'a detached mount');
  assert.equal(move['kite.mount.fs_type'], 'tmpfs');
  const setattr = record('mount-setattr.hex');
  assert.equal(setattr['kite.mount.target'], dir);
  assert.deepEqual(setattr['kite.mount.attributes.set'], ['rdonly']);
  assert.equal(setattr['kite.mount.recursive'], true);
  assert.equal(setattr['kite.mount.userns_fd'], undefined, 'no idmap');
  const tree = record('open-tree-clone.hex');
  assert.equal(tree['kite.mount.operation'], 'open_tree');
  assert.equal(tree['kite.mount.source'], dir);
  assert.equal(tree['kite.mount.recursive'], false);
  const refused = record('fsopen-refused.hex');
  assert.equal(refused['kite.mount.fs_type'], 'kite_nosuchfs');
  assert.equal(refused['kite.result.error'], 'ENODEV');
  assert.equal(refused['kite.namespace.mnt.id'], move['kite.namespace.mnt.id'], 'the same new mount namespace');
});

test('setns with nstype 0: the kind comes from the namespace file', () => {
  const w = decode('setns-any.hex');
  assert.equal(w.flags & SecurityFlags.FD_NS, SecurityFlags.FD_NS);
  const r = rx.toRecord(w);
  assert.equal(r['kite.namespace.flags'], 0);
  assert.deepEqual(r['kite.namespace.kinds'], ['uts']);
});
