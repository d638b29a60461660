/**
 * Kernel timestamps (CLOCK_BOOTTIME nanoseconds, from bpf_ktime_get_boot_ns) to wall-clock RFC 3339
 * strings with nanoseconds. Exact: all arithmetic stays below 2^53.
 */
import { CLOCK_BOOTTIME, CLOCK_REALTIME, native } from './libbpf';

function now(clock: number): [number, number] {
  const ts: { tv_sec?: number | bigint; tv_nsec?: number | bigint } = {};
  native.clockGettime(clock, ts);
  return [Number(ts.tv_sec), Number(ts.tv_nsec)];
}

export class BootClock {
  private offSec = 0;
  private offNsec = 0;
  private cachedSec = -1;
  private cachedPrefix = '';

  constructor() {
    this.sync();
  }

  /** Re-reads the offset between CLOCK_REALTIME and CLOCK_BOOTTIME (call now and then: NTP moves it). */
  sync(): void {
    const [bs, bn] = now(CLOCK_BOOTTIME);
    const [rs, rn] = now(CLOCK_REALTIME);
    let s = rs - bs;
    let n = rn - bn;
    if (n < 0) {
      n += 1e9;
      s -= 1;
    }
    this.offSec = s;
    this.offNsec = n;
  }

  /** Boot-time nanoseconds given as two u32 halves (as read from a record) to an RFC 3339 string. */
  formatHiLo(hi: number, lo: number): string {
    // hi * 2^32 = hi * 4e9 + hi * 294967296
    const rem = hi * 294967296 + lo;
    return this.format(hi * 4 + Math.floor(rem / 1e9), rem % 1e9);
  }

  /** Boot-time nanoseconds (a safe integer or bigint) to an RFC 3339 string. */
  formatNs(ns: number | bigint): string {
    const b = BigInt(ns);
    return this.format(Number(b / 1_000_000_000n), Number(b % 1_000_000_000n));
  }

  private format(bootSec: number, bootNsec: number): string {
    let sec = bootSec + this.offSec;
    let nsec = bootNsec + this.offNsec;
    if (nsec >= 1e9) {
      nsec -= 1e9;
      sec += 1;
    }
    if (sec !== this.cachedSec) {
      this.cachedSec = sec;
      this.cachedPrefix = new Date(sec * 1000).toISOString().slice(0, 19);
    }
    return `${this.cachedPrefix}.${String(nsec).padStart(9, '0')}Z`;
  }

  /** The current boot-time in nanoseconds. */
  static nowBootNs(): bigint {
    const [s, n] = now(CLOCK_BOOTTIME);
    return BigInt(s) * 1_000_000_000n + BigInt(n);
  }
}
