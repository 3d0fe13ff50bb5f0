// A cluster node as a child process (the built CLI) on the given PostgreSQL
// and Redis: TCP only, on an ephemeral port. The tests that pair it with an
// in-process node share it.
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { type ServerChild, spawnServer } from '../../bench/lib/child.js'
import { scaled } from '../support/time-scale.js'

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

export function spawnChildNode(o: {
  postgres: string
  redis: string
  nodeId: string
  secret: string
}): Promise<ServerChild> {
  return spawnServer(
    process.execPath,
    [
      path.join(ROOT, 'dist/src/cli/main.js'),
      'serve',
      '--postgres',
      o.postgres,
      '--redis',
      o.redis,
      '--node-id',
      o.nodeId,
      '--tcp',
      '127.0.0.1:0',
      '--ws',
      'off',
      '--token-secret',
      o.secret,
      '--log-level',
      'warn',
    ],
    { want: ['tcp'], timeoutMs: scaled(60_000) },
  )
}
