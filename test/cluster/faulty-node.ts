// Test-only cluster node: the reference server over ClusterStore with the
// ack-before-commit writer (ack-before-commit-pg-worker.ts), for the cluster
// crash test's self-check. Same listening line and signals as `imwire serve`.
//   node dist/test/cluster/faulty-node.js --tcp 127.0.0.1:0 --postgres URL --redis URL --token-secret S
import { parseArgs } from 'node:util'
import pino from 'pino'
import { ClusterStore } from '../../src/server/cluster/cluster-store.js'
import { startServer } from '../../src/server/server.js'
import { serveUntilSignal } from '../support/serve-until-signal.js'

const { values } = parseArgs({
  options: {
    tcp: { type: 'string', default: '127.0.0.1:0' },
    postgres: { type: 'string' },
    redis: { type: 'string' },
    'node-id': { type: 'string', default: 'faulty' },
    'token-secret': { type: 'string' },
  },
})
const { postgres, redis } = values
const secret = values['token-secret']
if (postgres === undefined || redis === undefined || secret === undefined) {
  process.stderr.write('usage: faulty-node --tcp HOST:PORT --postgres URL --redis URL --token-secret S\n')
  process.exit(2)
}
const [host, port] = (values.tcp as string).split(':')
const logger = pino({ level: 'warn' }, pino.destination({ dest: 2, sync: true }))
logger.warn('FAULT INJECTION: SendAck is sent before the PostgreSQL commit (test-only node)')
const store = await ClusterStore.open({
  postgresUrl: postgres,
  redisUrl: redis,
  nodeId: values['node-id'],
  logger,
  writerModule: new URL('./ack-before-commit-pg-worker.js', import.meta.url),
})
const server = await startServer({
  store,
  tokenSecret: secret,
  tcp: { host: host as string, port: Number(port) },
  ws: null,
  logger,
})
serveUntilSignal(server)
