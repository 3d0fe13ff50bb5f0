// Shared helpers for the runner's own tests.
import { join } from 'node:path'
import { builtPath } from '../../test/support/built.js'
import { kitPaths } from '../engine/paths.js'
import { type FakeServer, type Fault, startFakeServer } from './fixtures/fake-server.js'

export const SECRET = 'test-secret'
export const TEST_VECTORS = join(kitPaths().root, 'conformance', 'test', 'vectors')
/** The fake server's entry, source path; `--spawn` runs it from dist/ (test/support/built.ts). */
export const FAKE_SERVER_MAIN = 'conformance/test/fixtures/fake-server-main.ts'

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
  return `"${process.execPath}" "${builtPath(FAKE_SERVER_MAIN)}" --token-secret {secret}${faults.length ? ` --faults ${faults.join(',')}` : ''}`
}
