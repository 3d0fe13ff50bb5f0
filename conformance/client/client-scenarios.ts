// Loads client scenarios (vectors/client/*.json, kind "client"): JSON Schema
// validation against vectors/schema/client.schema.json, ids unique, and every
// message a step names sent by an earlier step.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { compileSchemaFile } from '../load/json-schema.js'

/** A conversation notice's reason: a v1 name, or a number v1 does not define [GEN-4]. */
export type NoticeReason = 'REPLAY_LIMIT' | 'JOINED' | 'REMOVED' | 'MEMBERS_CHANGED' | 'EPOCH_CHANGED' | number

/** Live Delivers of seqs from..to. */
export interface DeliverSpec {
  conversation: string
  from: number
  to: number
}

/** A ConversationUpdated; cursor defaults to the kit's cursor, epoch to the conversation's. */
export interface NoticeSpec {
  conversation: string
  reason: NoticeReason
  topSeq: number
  cursor?: number
  epoch?: number
}

export type ClientStep =
  | { client: 'connect'; heartbeatMs?: number }
  | { client: 'send'; as: string; conversation: string; contentType?: string; body: string }
  | { client: 'sendMany'; conversation: string; count: number }
  | { client: 'awaitMessage'; conversation: string; seq: number }
  | { client: 'stop' | 'start' | 'disconnect' }
  | { client: 'report'; outbox?: string[]; received?: Record<string, number[]> }
  | { client: 'expectRejected'; rejected: string; code?: number }
  | {
      server: 'error'
      of: string
      code: number
      retryable?: boolean
      retryAfterMs?: number
      expectedSendSeq?: number
    }
  | {
      server: 'accept'
      heartbeatMs?: number
      timeoutMs?: number
      holdWelcomeMs?: number
      maxInflightSends?: number
      receiveWindow?: number
      historyPageMax?: number
      dedupeWindowMs?: number
      welcome?: boolean
      replay?: Array<DeliverSpec | NoticeSpec>
    }
  | { server: 'drop' | 'silent' }
  | { server: 'close'; code: number; retryAfterMs?: number }
  | { server: 'expectSend'; of: string; sendSeq?: number; notBeforeMs?: number }
  | { server: 'ack'; of: string }
  | { server: 'expectNoSend' | 'expectNoConnection'; forMs: number }
  | { server: 'expectReconnect'; notBeforeMs: number; slackMs: number }
  | { server: 'refuseAndMeasure'; attempts: number; slackMs: number; floorMs: number }
  | { server: 'expectPings'; count: number; everyMs: number; slackMs: number }
  | ({ server: 'deliver' } & DeliverSpec)
  | ({ server: 'notice' } & NoticeSpec)
  | { server: 'history'; conversation: string; anchorSeq: number }
  | { server: 'expectAck'; conversation: string; upTo: number; withinMs: number; slackMs: number }
  | { server: 'expectDrop'; withinMs: number; slackMs: number }

export interface ClientScenario {
  id: string
  title: string
  description?: string
  requirements: string[]
  level: 'MUST' | 'SHOULD'
  features?: string[]
  steps: ClientStep[]
  file: string
}

export interface ClientLoadResult {
  scenarios: ClientScenario[]
  errors: Array<{ file: string; message: string }>
}

export function loadClientScenarios(dir: string, schemaPath: string): ClientLoadResult {
  const validate = compileSchemaFile(schemaPath)
  const scenarios: ClientScenario[] = []
  const errors: ClientLoadResult['errors'] = []
  const seen = new Set<string>()
  for (const name of readdirSync(dir).sort()) {
    if (!name.endsWith('.json')) continue
    const file = join(dir, name)
    let doc: { scenarios?: Omit<ClientScenario, 'file'>[] }
    try {
      doc = JSON.parse(readFileSync(file, 'utf8'))
    } catch (err) {
      errors.push({ file, message: `not JSON: ${(err as Error).message}` })
      continue
    }
    if (!validate(doc)) {
      for (const e of validate.errors ?? []) errors.push({ file, message: `${e.instancePath} ${e.message}` })
      continue
    }
    for (const s of doc.scenarios ?? []) {
      if (seen.has(s.id)) errors.push({ file, message: `duplicate id ${s.id}` })
      seen.add(s.id)
      const sent = new Set<string>()
      for (const [i, st] of s.steps.entries()) {
        if ('as' in st) sent.add(st.as)
        const names = 'of' in st ? [st.of] : 'outbox' in st ? (st.outbox ?? []) : 'rejected' in st ? [st.rejected] : []
        for (const n of names)
          if (!sent.has(n))
            errors.push({ file, message: `${s.id} step ${i}: message '${n}' is not sent by an earlier step` })
      }
      scenarios.push({ ...s, file })
    }
  }
  return { scenarios, errors }
}
