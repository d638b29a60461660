/** Settings of the exec receiver. */
import { byteSize, integer, parseByteSize } from '../../component/formats';
import { EXEC_LIMITS } from './wire';
import { FilterSettings, filterSchema } from '../filters';

export const DEFAULT_MAX_ARGS = 64;
export const DEFAULT_MAX_ARG_BYTES = 4096;
export const DEFAULT_RING_BUFFER_SIZE = '16MiB';

/** As written in the YAML (after defaults). */
export interface ExecRawConfig {
  max_args: number;
  max_arg_bytes: number;
  ring_buffer_size: string | number;
  filter: FilterSettings;
}

/** As the receiver uses it. */
export interface ExecConfig {
  maxArgs: number;
  maxArgBytes: number;
  ringBufferSize: number;
  filter: FilterSettings;
}

export const execSchema = {
  max_args: {
    doc: 'Most arguments reported per exec; further ones are dropped and the record is flagged kite.process.args_truncated.',
    format: integer({ min: 1, max: 4096 }),
    default: DEFAULT_MAX_ARGS,
  },
  max_arg_bytes: {
    doc: `Most bytes of argv copied from the kernel per exec (at most ${EXEC_LIMITS.argsMax}); longer command lines are cut and flagged kite.process.args_truncated.`,
    format: integer({ min: 16, max: EXEC_LIMITS.argsMax }),
    default: DEFAULT_MAX_ARG_BYTES,
  },
  ring_buffer_size: {
    doc: 'Size of the kernel ring buffer that holds records until the agent reads them: a power of two, from 64KiB to 1GiB. When it is full, records are lost and counted (ring_full).',
    format: byteSize({ min: 65536, max: 1 << 30, powerOfTwo: true }),
    default: DEFAULT_RING_BUFFER_SIZE,
  },
  filter: filterSchema,
};

export function toExecConfig(raw: ExecRawConfig): ExecConfig {
  return { maxArgs: raw.max_args, maxArgBytes: raw.max_arg_bytes, ringBufferSize: parseByteSize(raw.ring_buffer_size)!, filter: raw.filter };
}
