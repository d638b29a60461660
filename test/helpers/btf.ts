/** Reads a BPF object's BTF with `bpftool -j btf dump file` (no privileges needed). */
import { execFileSync } from 'node:child_process';

interface BtfType {
  id: number;
  kind: string;
  name?: string;
  size?: number;
  type_id?: number;
  nr_elems?: number;
  members?: { name: string; type_id: number; bits_offset: number }[];
  values?: { name: string; val: number }[];
  vars?: { type_id: number; offset: number; size: number }[];
}

export class Btf {
  private readonly byId = new Map<number, BtfType>();
  private readonly types: BtfType[];

  constructor(private readonly objectPath: string) {
    const json = JSON.parse(execFileSync('bpftool', ['-j', 'btf', 'dump', 'file', objectPath], { encoding: 'utf8', maxBuffer: 256 << 20 }));
    this.types = json.types as BtfType[];
    for (const t of this.types) this.byId.set(t.id, t);
  }

  private find(kind: string, name: string): BtfType {
    const t = this.types.find((x) => x.kind === kind && x.name === name);
    if (!t) throw new Error(`no ${kind} ${name} in BTF`);
    return t;
  }

  /** Names of every function (BPF programs and subprograms) in the object. */
  funcNames(): string[] {
    return this.types.filter((t) => t.kind === 'FUNC').map((t) => t.name ?? '');
  }

  /** Size in bytes of a type, through typedefs and qualifiers. */
  sizeOf(id: number): number {
    const t = this.byId.get(id);
    if (!t) throw new Error(`no BTF type ${id}`);
    switch (t.kind) {
      case 'INT': case 'STRUCT': case 'UNION': case 'ENUM': case 'ENUM64':
        return t.size!;
      case 'PTR':
        return 8;
      case 'ARRAY':
        return t.nr_elems! * this.sizeOf(t.type_id!);
      case 'TYPEDEF': case 'VOLATILE': case 'CONST': case 'RESTRICT': case 'TYPE_TAG':
        return this.sizeOf(t.type_id!);
      default:
        throw new Error(`no size for BTF kind ${t.kind}`);
    }
  }

  /** Offsets and sizes of a struct's members, nested structs flattened as `outer.inner`. */
  struct(name: string): { size: number; fields: Record<string, { offset: number; size: number }> } {
    const t = this.find('STRUCT', name);
    const fields: Record<string, { offset: number; size: number }> = {};
    const walk = (st: BtfType, base: number, prefix: string): void => {
      for (const m of st.members ?? []) {
        const offset = base + m.bits_offset / 8;
        let inner = this.byId.get(m.type_id)!;
        while (['TYPEDEF', 'VOLATILE', 'CONST'].includes(inner.kind)) inner = this.byId.get(inner.type_id!)!;
        if (inner.kind === 'STRUCT') walk(inner, offset, `${prefix}${m.name}.`);
        else fields[prefix + m.name] = { offset, size: this.sizeOf(m.type_id) };
      }
    };
    walk(t, 0, '');
    return { size: t.size!, fields };
  }

  enumValues(name: string): Record<string, number> {
    const t = this.find('ENUM', name);
    return Object.fromEntries((t.values ?? []).map((v) => [v.name, v.val]));
  }

  /** Variables of a data section (`.rodata`, `.bss`): name -> offset and size, from the ELF symbols
   * (the object's DATASEC offsets are only filled in by libbpf at load time). */
  datasec(name: string): Record<string, { offset: number; size: number }> {
    const out: Record<string, { offset: number; size: number }> = {};
    for (const line of this.symbols.split('\n')) {
      const m = /^([0-9a-f]+)\s+\S+\s+O\s+(\S+)\s+([0-9a-f]+)\s+(\S+)$/.exec(line.trim());
      if (m && m[2] === name) out[m[4]!] = { offset: parseInt(m[1]!, 16), size: parseInt(m[3]!, 16) };
    }
    return out;
  }

  private get symbols(): string {
    return execFileSync('llvm-objdump', ['-t', this.objectPath], { encoding: 'utf8' });
  }
}
