// `npm run vectors:gen`: regenerates vectors/codec/*.json from the case
// definitions in vectors/codec/gen/. The JSON files are the committed data
// (tests and other implementations read them, never this script); rerunning
// it must reproduce them byte for byte.
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { batchCases } from './gen/batches.js'
import { frameCases } from './gen/frames.js'
import type { VectorCase } from './gen/helpers.js'
import { invalidCases } from './gen/invalid.js'
import { nonCanonicalCases } from './gen/noncanonical.js'
import { streamCases } from './gen/streams.js'

const here = dirname(fileURLToPath(import.meta.url))

const files: Array<[name: string, description: string, cases: () => VectorCase[]]> = [
  ['frames.json', 'One valid frame per case (WebSocket form): every frame type, edge values, every enum.', frameCases],
  [
    'frames-noncanonical.json',
    'Valid but non-canonical frames: unknown fields and body numbers, reordered, repeated and merged fields, non-minimal varints.',
    nonCanonicalCases,
  ],
  ['streams.json', 'The TCP form: zero, one and many frames, prefix edge cases, limits at their boundary.', streamCases],
  ['batches.json', 'Valid batches, plain and LZ4, and how they expand.', batchCases],
  ['invalid.json', 'Bytes a receiver must refuse, with the close code.', invalidCases],
]

const seen = new Set<string>()
let total = 0
for (const [name, description, make] of files) {
  const cases = make()
  for (const c of cases) {
    if (seen.has(c.id)) throw new Error(`duplicate vector id ${c.id}`)
    seen.add(c.id)
  }
  const doc = { $schema: '../schema/codec.schema.json', kind: 'codec', version: 1, description, cases }
  writeFileSync(join(here, name), `${JSON.stringify(doc, null, 2)}\n`)
  total += cases.length
  process.stdout.write(`${name}: ${cases.length} cases\n`)
}
process.stdout.write(`${total} codec vectors\n`)
