// `npm run vectors:gen`: regenerates vectors/codec/*.json from the case
// definitions in vectors/codec/gen/. The JSON files are the committed data
// (tests and other implementations read them, never this script); rerunning
// it must reproduce them byte for byte (test/codec/vectors-fresh.test.ts).
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { codecVectorFiles } from './gen/files.js'

const here = dirname(fileURLToPath(import.meta.url))
let total = 0
for (const [name, text, count] of codecVectorFiles()) {
  writeFileSync(join(here, name), text)
  total += count
  process.stdout.write(`${name}: ${count} cases\n`)
}
process.stdout.write(`${total} codec vectors\n`)
