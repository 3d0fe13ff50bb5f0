// The committed codec vectors are exactly what `npm run vectors:gen` writes:
// a change to the case definitions (or to the codec the generator checks
// every case against) without regenerating fails here.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { codecVectorFiles } from '../../vectors/codec/gen/files.js'
import { root } from './helpers.js'

for (const [name, text] of codecVectorFiles()) {
  const committed = readFileSync(join(root, 'vectors/codec', name), 'utf8')
  t.ok(committed === text, `vectors/codec/${name} is up to date (run \`npm run vectors:gen\`)`)
}
