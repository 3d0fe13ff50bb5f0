// Shared by the client-conformance tests: the scenarios, and the reference
// adapter run in-process (with optional fault hooks).
import { join } from 'node:path'
import { type Launcher, inProcessLauncher } from '../client/adapter-session.js'
import { type ClientScenario, loadClientScenarios } from '../client/client-scenarios.js'
import { type AdapterHooks, runAdapter } from '../../src/cli/client-adapter.js'
import { kitPaths } from '../engine/paths.js'

export function clientScenarios(): ClientScenario[] {
  const root = kitPaths().root
  const loaded = loadClientScenarios(
    join(root, 'vectors', 'client'),
    join(root, 'vectors', 'schema', 'client.schema.json'),
  )
  if (loaded.errors.length > 0) throw new Error(loaded.errors.map((e) => `${e.file}: ${e.message}`).join('\n'))
  return loaded.scenarios
}

export function scenario(id: string): ClientScenario {
  const s = clientScenarios().find((x) => x.id === id)
  if (s === undefined) throw new Error(`no client scenario ${id}`)
  return s
}

/** The reference client, in this process, with one fault composed in (or none). */
export function referenceLauncher(hooks: AdapterHooks = {}): Launcher {
  return inProcessLauncher((io, stateDir) => runAdapter(io, stateDir, hooks))
}
