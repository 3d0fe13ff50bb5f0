// The known-failures file: cases an implementation knows it fails, so CI
// stays green while they are fixed, and turns red when the list is stale.
//
//   # comment
//   dedupe.retry-after-drop-returns-original-seq   # trailing comment
//   ws:limits.*                                     # only over WebSocket
//
// A listed case that fails is an expected failure. A listed case that passes,
// or an entry that matches no case of the suite, fails the run; the report
// names the exact lines to remove.
import { readFileSync } from 'node:fs'
import type { TransportKind } from '../drivers/transport.js'
import { globMatch } from './glob.js'

export interface KnownFailure {
  line: number
  text: string
  transport: TransportKind | null
  glob: string
}

export class KnownFailuresError extends Error {
  override name = 'KnownFailuresError'
}

export function parseKnownFailures(text: string, file = 'known-failures'): KnownFailure[] {
  const out: KnownFailure[] = []
  text.split(/\r?\n/).forEach((raw, i) => {
    const body = raw.replace(/#.*$/, '').trim()
    if (body === '') return
    const m = /^(?:(tcp|ws):)?([A-Za-z0-9.*?_-]+)$/.exec(body)
    if (!m) throw new KnownFailuresError(`${file}:${i + 1}: expected [tcp:|ws:]CASE-ID-GLOB, got '${body}'`)
    out.push({
      line: i + 1,
      text: raw.trim(),
      transport: (m[1] as TransportKind | undefined) ?? null,
      glob: m[2] as string,
    })
  })
  return out
}

export function loadKnownFailures(file: string): KnownFailure[] {
  return parseKnownFailures(readFileSync(file, 'utf8'), file)
}

export function knownFailureFor(
  entries: KnownFailure[],
  id: string,
  transport: TransportKind,
): KnownFailure | undefined {
  return entries.find((e) => (e.transport === null || e.transport === transport) && globMatch(e.glob, id))
}

export function matchesAny(e: KnownFailure, pairs: Array<{ id: string; transport: TransportKind }>): boolean {
  return pairs.some((p) => (e.transport === null || e.transport === p.transport) && globMatch(e.glob, p.id))
}
