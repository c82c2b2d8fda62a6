// What the decoder accepts, from the configuration and the clock: the largest value, and the
// window of `ts` (retention behind, the allowed clock skew ahead) for a topic's kind.
import type { Config } from '../../config.ts';
import { DAY_MS } from '../../partitions/index.ts';
import type { TopicKind } from '../chunk/item.ts';
import type { DecodeLimits } from './decode.ts';

export function decodeLimits(config: Config, kind: TopicKind, now = Date.now()): DecodeLimits {
  const days = kind === 'stats' ? config.retention.metricsInstanceDays : config.retention.eventsDays;
  return { messageMaxBytes: config.batch.messageMaxBytes, minTsMs: now - days * DAY_MS, maxTsMs: now + config.timestampMaxFutureSkewMs };
}
