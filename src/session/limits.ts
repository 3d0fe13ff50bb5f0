// Rules on a server's limits. [LIM-1] [LIM-2] The limits themselves, their
// defaults and their Appendix D bounds are protocol facts and live in the
// codec (src/codec/protocol-constants.ts).
import { LIMIT_BOUNDS, type ServerLimits } from '../codec/index.js'

/** Problems with a set of limits (empty when it may be advertised). [LIM-1] */
export function checkLimits(l: ServerLimits): string[] {
  const problems: string[] = []
  for (const [k, [lo, hi]] of Object.entries(LIMIT_BOUNDS) as [keyof ServerLimits, readonly [number, number]][]) {
    const v = l[k]
    if (!Number.isInteger(v) || v < lo || v > hi) problems.push(`${k} must be an integer in [${lo}, ${hi}]`)
  }
  // A Send around a largest body fits a frame; a backlog holds at least a window.
  if (l.maxFrameBytes < l.maxMessageBytes + 1024) problems.push('maxFrameBytes must be >= maxMessageBytes + 1024')
  if (l.maxBacklog < l.receiveWindow) problems.push('maxBacklog must be >= receiveWindow')
  return problems
}

/**
 * Output buffered for a connection beyond which it is a slow consumer even
 * if the backlog count is low (e.g. big messages). [FLW-3] 16 MiB: several
 * windows of maximum-size messages, far above what a reading client holds.
 */
export const DEFAULT_MAX_OUTPUT_BYTES = 16 * 1024 * 1024
