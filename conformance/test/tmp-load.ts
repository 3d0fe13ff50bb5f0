import { kitPaths } from '../engine/paths.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'
const paths = kitPaths()
const r = loadScenarios({ dir: paths.vectorsDir, schemaPath: paths.schemaPath, spec: loadSpecIndex(paths.specPath) })
for (const e of r.errors) console.log(`${e.file} ${e.where}: ${e.message}`)
console.log(r.scenarios.length, 'scenarios', r.errors.length, 'errors')
