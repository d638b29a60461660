/** Jittered exponential backoff, as in the OpenTelemetry Collector's retry_on_failure. */
import { RetryConfig } from './config';

/**
 * The wait before retry number `attempt` (0 for the first retry): initial * multiplier^attempt capped
 * at max, then drawn uniformly from [w*(1-f), w*(1+f)]. A server's Retry-After raises the wait to it.
 */
export function backoffMs(cfg: RetryConfig, attempt: number, retryAfterMs = 0, random: () => number = Math.random): number {
  const base = Math.min(cfg.maxIntervalMs, cfg.initialIntervalMs * cfg.multiplier ** attempt);
  const f = cfg.randomizationFactor;
  const jittered = base * (1 - f + 2 * f * random());
  return Math.max(jittered, retryAfterMs);
}
