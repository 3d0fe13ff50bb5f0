// The codec vector files and their content, shared by the generator
// (vectors/codec/generate.ts) and the freshness test (test/codec).
import { batchCases } from './batches.js'
import { frameCases } from './frames.js'
import type { VectorCase } from './helpers.js'
import { invalidCases } from './invalid.js'
import { nonCanonicalCases } from './noncanonical.js'
import { streamCases } from './streams.js'

const FILES: Array<[name: string, description: string, cases: () => VectorCase[]]> = [
  ['frames.json', 'One valid frame per case (WebSocket form): every frame type, edge values, every enum.', frameCases],
  [
    'frames-noncanonical.json',
    'Valid but non-canonical frames: unknown fields and body numbers, reordered, repeated and merged fields, non-minimal varints.',
    nonCanonicalCases,
  ],
  [
    'streams.json',
    'The TCP form: zero, one and many frames, prefix edge cases, limits at their boundary.',
    streamCases,
  ],
  ['batches.json', 'Valid batches, plain and LZ4, and how they expand.', batchCases],
  ['invalid.json', 'Bytes a receiver must refuse, with the close code.', invalidCases],
]

/** Every file as [name, exact text to write]; throws on a duplicate id or a case the codec disagrees with. */
export function codecVectorFiles(): Array<[name: string, text: string, cases: number]> {
  const seen = new Set<string>()
  return FILES.map(([name, description, make]) => {
    const cases = make()
    for (const c of cases) {
      if (seen.has(c.id)) throw new Error(`duplicate vector id ${c.id}`)
      seen.add(c.id)
    }
    const doc = { $schema: '../schema/codec.schema.json', kind: 'codec', version: 1, description, cases }
    return [name, `${JSON.stringify(doc, null, 2)}\n`, cases.length]
  })
}
