/**
 * Records as OCSF 1.1 events: Process Activity (1007), File System Activity (1001), Network Activity
 * (4001), DNS Activity (4003) and Detection Finding (2004); anything else is a Base Event (0). Each
 * has `class_uid`, `category_uid`, `activity_id`, `type_uid` (class_uid * 100 + activity_id),
 * `time` (ms), `severity_id`, `metadata` (product, version, uid = kite.event_id, sequence) and
 * `device`. Keys with no OCSF attribute are kept in `unmapped`.
 */
import { AttrValue, KiteRecord } from '../../component/component';
import { eventAction, eventKind, EventKind, recordTimeMs } from './event-kind';

export const OCSF_VERSION = '1.1.0';

interface OcsfClass {
  classUid: number;
  className: string;
  categoryUid: number;
  categoryName: string;
  activities: Record<string, [number, string]>;
}

const CLASSES: Partial<Record<EventKind, OcsfClass>> = {
  process: { classUid: 1007, className: 'Process Activity', categoryUid: 1, categoryName: 'System Activity', activities: { exec: [1, 'Launch'], fork: [1, 'Launch'], exit: [2, 'Terminate'], open: [3, 'Open'], inject: [4, 'Inject'] } },
  file: {
    classUid: 1001, className: 'File System Activity', categoryUid: 1, categoryName: 'System Activity',
    activities: { create: [1, 'Create'], read: [2, 'Read'], write: [3, 'Update'], modify: [3, 'Update'], delete: [4, 'Delete'], unlink: [4, 'Delete'], rename: [5, 'Rename'], chmod: [6, 'Set Attributes'], chown: [6, 'Set Attributes'], mount: [12, 'Mount'], umount: [13, 'Unmount'], open: [14, 'Open'] },
  },
  network: { classUid: 4001, className: 'Network Activity', categoryUid: 4, categoryName: 'Network Activity', activities: { connect: [1, 'Open'], accept: [1, 'Open'], close: [2, 'Close'], reset: [3, 'Reset'], fail: [4, 'Fail'], refuse: [5, 'Refuse'], traffic: [6, 'Traffic'], listen: [7, 'Listen'] } },
  dns: { classUid: 4003, className: 'DNS Activity', categoryUid: 4, categoryName: 'Network Activity', activities: { query: [1, 'Query'], response: [2, 'Response'], answer: [2, 'Response'] } },
  finding: { classUid: 2004, className: 'Detection Finding', categoryUid: 2, categoryName: 'Findings', activities: { create: [1, 'Create'], update: [2, 'Update'], close: [3, 'Close'] } },
};

/** Kite key -> OCSF attribute path, by class; `@` is the process the event is about. */
const PROCESS_FIELDS: Record<string, string> = {
  'process.pid': '@.pid',
  'process.command_line': '@.cmd_line',
  'process.executable.path': '@.file.path',
  'process.executable.name': '@.name',
  'process.parent_pid': '@.parent_process.pid',
  'kite.process.exec_id': '@.uid',
  'kite.process.parent.exec_id': '@.parent_process.uid',
  'process.user.id': '@.user.uid',
  'process.user.name': '@.user.name',
  'process.creation.time': '@.created_time_dt',
  'process.working_directory': '@.file.parent_folder',
  'process.exit.code': 'exit_code',
  'container.id': '@.container.uid',
  'file.path': 'file.path',
  'file.name': 'file.name',
  'file.size': 'file.size',
  'destination.address': 'dst_endpoint.ip',
  'destination.port': 'dst_endpoint.port',
  'source.address': 'src_endpoint.ip',
  'source.port': 'src_endpoint.port',
  'network.transport': 'connection_info.protocol_name',
  'dns.question.name': 'query.hostname',
  'dns.question.type': 'query.type',
  'dns.response_code': 'rcode',
  'kite.event_id': 'metadata.uid',
  'kite.seq': 'metadata.sequence',
};

function put(doc: Record<string, unknown>, dotted: string, value: unknown): void {
  const parts = dotted.split('.');
  let cur = doc;
  for (let i = 0; i < parts.length - 1; i++) {
    const p = parts[i]!;
    if (typeof cur[p] !== 'object' || cur[p] === null) cur[p] = {};
    cur = cur[p] as Record<string, unknown>;
  }
  cur[parts[parts.length - 1]!] = value;
}

export function toOcsf(r: KiteRecord, resource: Record<string, AttrValue>): Record<string, unknown> {
  const name = r['event.name'];
  const kind = eventKind(name);
  const cls = CLASSES[kind];
  const action = eventAction(name);
  const [activityId, activityName] = cls?.activities[action] ?? [99, 'Other'];
  const classUid = cls?.classUid ?? 0;
  const doc: Record<string, unknown> = {
    class_uid: classUid,
    class_name: cls?.className ?? 'Base Event',
    category_uid: cls?.categoryUid ?? 0,
    category_name: cls?.categoryName ?? 'Uncategorized',
    activity_id: activityId,
    activity_name: activityName,
    type_uid: classUid * 100 + activityId,
    time: recordTimeMs(r),
    severity_id: name === 'kite.loss' ? 3 : kind === 'finding' ? 4 : 1,
    status_id: 1,
    metadata: {
      version: OCSF_VERSION,
      product: { name: 'Kite', vendor_name: 'Kite', version: resource['service.version'] },
      event_code: name,
    },
    device: { hostname: resource['host.name'], type_id: 0, os: { name: 'Linux', type_id: 200, version: resource['os.version'] } },
  };
  // Process Activity is about the target process; the other classes about the acting process
  const target = kind === 'process' ? 'process' : 'actor.process';
  const unmapped: Record<string, AttrValue> = {};
  for (const k in r) {
    if (k === 'time' || k === 'event.name') continue;
    const v = r[k];
    if (v === undefined) continue;
    const path = PROCESS_FIELDS[k];
    if (path) put(doc, path.startsWith('@') ? target + path.slice(1) : path, v);
    else unmapped[k] = v;
  }
  if (kind === 'dns') {
    const q = doc.query as Record<string, unknown> | undefined;
    if (q) {
      q.class = 'IN';
    }
  }
  if (Object.keys(unmapped).length) doc.unmapped = unmapped;
  return doc;
}
