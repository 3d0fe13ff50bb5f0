// Results of one case, shared by the engine and the reporters.
import type { Mismatch } from '../judge/matcher.js'
import type { TransportKind } from '../drivers/transport.js'
import type { LatencySummary } from './latency.js'
import type { TranscriptEntry } from './transcript.js'
import type { Placement } from './node-placement.js'

/**
 * `inconclusive`: a protocol time bound could not be judged because the
 * runner itself lagged (see timing.ts); never counted for or against the
 * server.
 */
export type Verdict = 'pass' | 'fail' | 'inconclusive' | 'skipped' | 'expected-failure' | 'error'

export interface CaseFailure {
  /** Step path, e.g. `steps[3]` or `steps[5].parallel[1][2]` or `steps[4].repeat(i=7)[1]`. */
  step: string
  /** The step as written in the vector (templates unresolved). */
  stepJson?: unknown
  message: string
  expected?: unknown
  actual?: unknown
  /** Field-level differences between matcher and frame. */
  mismatches?: Mismatch[]
  /**
   * What the unexpected frame was, when the runner can name the rule it breaks
   * (e.g. "a Deliver of this device's own message [DLV-5]"): failures with the
   * same hint are one cause, whatever step they broke.
   */
  hint?: string
}

export interface CaseResult {
  id: string
  title: string
  transport: TransportKind
  verdict: Verdict
  level: 'MUST' | 'SHOULD'
  requirements: string[]
  features: string[]
  durationMs: number
  /** Why skipped, or which known-failures line made a failure expected, or the harness error. */
  reason?: string
  failure?: CaseFailure
  /** The server's answer times in this case (request -> answer the runner could attribute). */
  latency?: LatencySummary
  /** A cluster target: the node (1..N) of each connection the case opened, in order. */
  nodes?: Placement[]
  transcript: TranscriptEntry[]
}

export class StepFailure extends Error {
  override name = 'StepFailure'
  constructor(
    message: string,
    readonly detail: { expected?: unknown; actual?: unknown; mismatches?: Mismatch[]; hint?: string } = {},
  ) {
    super(message)
  }
}

/** A time bound the runner's own lag makes impossible to judge. */
export class TimingInconclusive extends Error {
  override name = 'TimingInconclusive'
}

/** A bug in the runner or an invalid vector: never counted against the server. */
export class HarnessError extends Error {
  override name = 'HarnessError'
}
