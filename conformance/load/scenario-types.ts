// Types of session scenarios as loaded from vectors/session/*.json. The JSON
// Schema (vectors/schema/session.schema.json) is the contract; these types
// mirror it for the engine.

export type Json = null | boolean | number | string | Json[] | { [k: string]: Json }
export type JsonObject = { [k: string]: Json }

/** The optional protocol features a scenario may need ([HS-5], spec section 22). */
export const FEATURES = ['lz4', 'read-state', 'inbox', 'history-time'] as const
export type Feature = (typeof FEATURES)[number]
export type Need = 'restart' | 'tcp-only' | 'ws-only' | 'two-transports'
export type HandshakeMode = 'full' | 'welcome' | 'none'

export interface Actor {
  user: string
  device: string
}

export interface Scenario {
  id: string
  title: string
  description?: string
  requirements: string[]
  level: 'MUST' | 'SHOULD'
  features: Feature[]
  needs: Need[]
  timeoutMs: number
  actors: Record<string, Actor>
  steps: Step[]
  /** Where it was loaded from, for messages. */
  file: string
}

/** One step: exactly one verb key plus options (checked by the schema). */
export type Step = JsonObject

export const STEP_VERBS = [
  'connect',
  'send',
  'sendBatch',
  'sendRaw',
  'sendText',
  'expect',
  'expectSet',
  'expectNothing',
  'expectClose',
  'expectOpen',
  'disconnect',
  'silence',
  'sleep',
  'restartServer',
  'repeat',
  'parallel',
  'set',
  'assert',
] as const
export type StepVerb = (typeof STEP_VERBS)[number]

export function verbOf(step: Step): StepVerb {
  for (const v of STEP_VERBS) if (v in step) return v
  throw new Error(`step has no verb: ${JSON.stringify(step)}`)
}

export const DEFAULT_SCENARIO_TIMEOUT_MS = 10_000
export const DEFAULT_WITHIN_MS = 3_000
