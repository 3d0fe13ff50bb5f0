// Every count of scenarios and cases in README.md and conformance/README.md
// is the suite's: a vector added or removed without the READMEs fails here.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { kitPaths } from '../engine/paths.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'

const paths = kitPaths()
const { scenarios } = loadScenarios({
  dir: paths.vectorsDir,
  schemaPath: paths.schemaPath,
  spec: loadSpecIndex(paths.specPath),
})
const cases = scenarios.reduce((n, s) => n + (s.needs.includes('tcp-only') || s.needs.includes('ws-only') ? 1 : 2), 0)

t.test("README.md and conformance/README.md state the suite's scenario and case counts", async (t) => {
  let stated = 0
  for (const file of ['README.md', join('conformance', 'README.md')]) {
    const text = readFileSync(join(paths.root, file), 'utf8')
    for (const m of text.matchAll(/(\d[\d,]*) (scenarios|cases)\b/g)) {
      const n = Number((m[1] as string).replace(/,/g, ''))
      t.equal(n, m[2] === 'scenarios' ? scenarios.length : cases, `${file}: "${m[0]}"`)
      stated++
    }
  }
  // The check cannot pass by finding nothing: conformance/README.md states both counts.
  t.ok(stated >= 2, `${stated} counts stated`)
})
