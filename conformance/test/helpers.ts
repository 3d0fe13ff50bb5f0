// Shared helpers for the runner's own tests.
import { join } from 'node:path'
import { kitPaths } from '../engine/paths.js'
import { type FakeServer, type Fault, startFakeServer } from './fixtures/fake-server.js'

export const SECRET = 'test-secret'
export const TEST_VECTORS = join(kitPaths().root, 'conformance', 'test', 'vectors')
export const FAKE_SERVER_MAIN = join(kitPaths().root, 'conformance', 'test', 'fixtures', 'fake-server-main.ts')
/** The TypeScript loader tap itself uses, so a fixture can run as its own process. */
export const TS_IMPORT = '@isaacs/ts-node-temp-fork-for-pr-2009/import'

export async function withFakeServer<T>(
  faults: Fault[],
  fn: (s: FakeServer, targets: string[]) => Promise<T>,
): Promise<T> {
  const s = await startFakeServer({ secret: SECRET, faults })
  try {
    return await fn(s, [`tcp://${s.tcp}`, s.ws])
  } finally {
    await s.close()
  }
}

/** `--spawn` command running the fake server as a process. */
export function fakeServerCommand(faults: Fault[] = []): string {
  process.env.TS_NODE_TRANSPILE_ONLY = '1'
  return `"${process.execPath}" --import ${TS_IMPORT} "${FAKE_SERVER_MAIN}" --token-secret {secret}${faults.length ? ` --faults ${faults.join(',')}` : ''}`
}
