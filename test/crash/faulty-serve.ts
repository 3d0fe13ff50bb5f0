// Test-only server entry: the reference server (startServer) over
// AckBeforeCommitStore, for the crash test's self-check. Same listening line
// and signal handling as `imwire serve`, so the scenario drives it the same
// way. Run with the ts-node loader:
//   node --import tsx test/crash/faulty-serve.ts \
//     --tcp 127.0.0.1:0 --data-dir DIR --token-secret S
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import pino from 'pino'
import { startServer } from '../../src/server/server.js'
import { serveUntilSignal } from '../support/serve-until-signal.js'
import { DB_FILE } from '../../src/server/store/sqlite-store.js'
import { AckBeforeCommitStore } from './ack-before-commit-store.js'

const { values } = parseArgs({
  options: {
    tcp: { type: 'string', default: '127.0.0.1:0' },
    'data-dir': { type: 'string' },
    'token-secret': { type: 'string' },
  },
})
const dataDir = values['data-dir']
const secret = values['token-secret']
if (dataDir === undefined || secret === undefined) {
  process.stderr.write('usage: faulty-serve --tcp HOST:PORT --data-dir DIR --token-secret S\n')
  process.exit(2)
}
const [host, port] = (values.tcp as string).split(':')
mkdirSync(dataDir, { recursive: true })
const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }))
logger.warn('FAULT INJECTION: SendAck is sent before the commit is durable (test-only server)')
const store = AckBeforeCommitStore.open(join(dataDir, DB_FILE))
const server = await startServer({
  store,
  tokenSecret: secret,
  tcp: { host: host as string, port: Number(port) },
  ws: null,
  logger,
})
serveUntilSignal(server)
