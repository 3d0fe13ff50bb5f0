// The committed codec vectors are exactly what `npm run vectors:gen` writes:
// a change to the case definitions (or to the codec the generator checks
// every case against) without regenerating fails here.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { codecVectorFiles } from '../../vectors/codec/gen/files.js'
import { root } from './helpers.js'

for (const [name, text] of codecVectorFiles()) {
  const committed = readFileSync(join(root, 'vectors/codec', name), 'utf8')
  t.ok(committed === text, `vectors/codec/${name} is up to date (run \`npm run vectors:gen\`)`)
}

// A session step that says it sends "the bytes of codec vector X" must send
// exactly those bytes: regenerating a codec vector updates the session copy.
t.test('session steps that reuse a codec vector carry its current bytes', async (t) => {
  const codec = new Map<string, string>()
  for (const [, text] of codecVectorFiles())
    for (const c of (JSON.parse(text) as { cases: Array<{ id: string; hex: string }> }).cases) codec.set(c.id, c.hex)
  let n = 0
  for (const name of readdirSync(join(root, 'vectors/session'))) {
    const doc = JSON.parse(readFileSync(join(root, 'vectors/session', name), 'utf8')) as {
      scenarios: Array<{ id: string; steps: Array<{ frameHex?: string; comment?: string }> }>
    }
    for (const s of doc.scenarios)
      for (const step of s.steps) {
        const id = /the bytes of codec vector ([a-z0-9.-]+)/.exec(step.comment ?? '')?.[1]
        if (id === undefined) continue
        n++
        t.equal(step.frameHex, codec.get(id), `${s.id} sends the bytes of ${id}`)
      }
  }
  t.ok(n >= 3, `${n} session steps reuse codec vectors`)
})
