// `imwire serve` as a process: the listening line, SIGTERM shutdown with
// 3001, restart on the same data directory, usage errors.
import { type ChildProcess, spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { create } from '@bufbuild/protobuf'
import t from 'tap'
import { encodeBatch } from '../../src/codec/index.js'
import { ConversationKind } from '../../src/gen/es/imwire/v1/conversation_pb.js'
import { CloseCode, ErrorCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { FrameSchema } from '../../src/gen/es/imwire/v1/frame_pb.js'
import { OPTIONS, USAGE } from '../../src/server/cli.js'
import { DB_FILE } from '../../src/server/store/sqlite-store.js'
import { ensureBuilt } from '../support/built.js'
import { scaled } from '../support/time-scale.js'
import { type Kind, Peer } from './peer.js'

const ROOT = new URL('../..', import.meta.url).pathname
const CLI = join(ROOT, 'dist/src/cli/main.js')
const SECRET = 'cli-test-secret'

await ensureBuilt()

const dataDir = mkdtempSync(join(tmpdir(), 'imwire-cli-'))
t.teardown(() => rmSync(dataDir, { recursive: true, force: true }))

interface Proc {
  child: ChildProcess
  listening: { event: string; tcp: string | null; ws: string | null }
  stdout: () => string
  stderr: () => string
  exit: Promise<number | null>
}

async function serve(args: string[]): Promise<Proc> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  // Stopped with the file whatever the test did with it.
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
  })
  let out = ''
  let err = ''
  child.stderr?.on('data', (d) => {
    err += d
  })
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => r(code)))
  const line = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`no listening line; stderr: ${err}`)), scaled(30_000))
    child.stdout?.on('data', (d) => {
      out += d
      if (out.includes('\n')) {
        clearTimeout(timer)
        resolve(out.slice(0, out.indexOf('\n')))
      }
    })
    exit.then((code) => reject(new Error(`exited ${code} before listening; stderr: ${err}`)))
  })
  return { child, listening: JSON.parse(line), stdout: () => out, stderr: () => err, exit }
}

const common = ['--tcp', '127.0.0.1:0', '--ws', '127.0.0.1:0/imwire', '--data-dir', dataDir, '--token-secret', SECRET]
const id = Uint8Array.from({ length: 16 }, (_, i) => i + 1)

t.test('prints one listening line, serves both transports, and shuts down on SIGTERM with 3001 [ERR-6]', async (t) => {
  const p = await serve([...common, '--log-level', 'info'])
  t.teardown(() => p.child.kill('SIGKILL'))
  t.equal(p.listening.event, 'listening')
  t.match(p.listening.tcp, /^127\.0\.0\.1:\d+$/)
  t.match(p.listening.ws, /^ws:\/\/127\.0\.0\.1:\d+\/imwire$/)
  const server = { tcpAddress: p.listening.tcp, wsUrl: p.listening.ws }
  const peers: Peer[] = []
  for (const kind of ['tcp', 'ws'] as Kind[]) {
    const peer = await Peer.open(kind, server)
    await peer.login(SECRET, 'alice', `a-${kind}`)
    peers.push(peer)
  }
  const [a] = peers as [Peer, Peer]
  a.send({ case: 'createConversation', value: { requestId: 1, conversationId: 'g', kind: ConversationKind.GROUP } })
  await a.expect('conversationResult')
  t.equal((await (peers[1] as Peer).expect('conversationUpdated')).conversationId, 'g', 'JOINED on the other device')
  a.send({ case: 'send', value: { clientMsgId: id, conversationId: 'g', body: Uint8Array.of(7) } })
  t.equal((await a.expect('sendAck')).seq, 1n)
  t.equal((await (peers[1] as Peer).expect('deliver')).message?.seq, 1n, 'the other device got it over WS')
  p.child.kill('SIGTERM')
  for (const peer of peers) t.equal(await peer.expectClose(), CloseCode.GOING_AWAY)
  t.equal(await p.exit, 0)
  // The store was closed: the last connection's close checkpoints and removes the WAL.
  t.ok(existsSync(join(dataDir, DB_FILE)), 'database file')
  t.notOk(existsSync(join(dataDir, `${DB_FILE}-wal`)), 'no WAL left: the database was closed')
  t.equal(p.stdout().trim().split('\n').length, 1, 'nothing else on stdout')
  t.match(p.stderr(), /"msg":"stopped"/, 'structured logs on stderr')
})

t.test('a restart on the same data dir keeps seqs and dedupe records [DUP-5] [ACK-2]', async (t) => {
  const p = await serve([...common, '--ws', 'off', '--log-level', 'warn'])
  t.teardown(() => p.child.kill('SIGKILL'))
  t.equal(p.listening.ws, null)
  const a = await Peer.open('tcp', { tcpAddress: p.listening.tcp, wsUrl: null })
  t.teardown(() => a.destroy())
  await a.login(SECRET, 'alice', 'a-tcp')
  a.send({ case: 'send', value: { clientMsgId: id, conversationId: 'g', body: Uint8Array.of(7) } })
  const dup = await a.expect('sendAck')
  t.same([dup.seq, dup.duplicate], [1n, true])
  a.send({ case: 'send', value: { clientMsgId: new Uint8Array(16), conversationId: 'g', body: Uint8Array.of(8) } })
  t.same((await a.expect('sendAck')).seq, 2n)
  p.child.kill('SIGINT')
  t.equal(await p.exit, 0)
})

t.test('refuses to start without a token secret unless --dev, which prints one to stderr [AUTH-3]', async (t) => {
  const env = { ...process.env }
  delete env.IMWIRE_TOKEN_SECRET
  const r = spawnSync(process.execPath, [CLI, 'serve', '--memory', '--tcp', '127.0.0.1:0', '--ws', 'off'], {
    env,
    encoding: 'utf8',
    timeout: scaled(30_000),
  })
  t.equal(r.status, 2)
  t.equal(r.stdout, '')
  const bad = spawnSync(process.execPath, [CLI, 'serve', '--tcp', 'nonsense'], {
    encoding: 'utf8',
    timeout: scaled(30_000),
  })
  t.equal(bad.status, 2, 'usage error')
  const dev = await serve(['--dev', '--memory', '--tcp', '127.0.0.1:0', '--ws', 'off', '--log-level', 'silent'])
  t.match(dev.stderr(), /development token secret: dev-[0-9a-f]+/)
  dev.child.kill('SIGTERM')
  t.equal(await dev.exit, 0)
})

t.test('--help documents every flag and exits 0', async (t) => {
  const r = spawnSync(process.execPath, [CLI, 'serve', '--help'], { encoding: 'utf8', timeout: scaled(30_000) })
  t.equal(r.status, 0)
  t.equal(r.stdout, USAGE)
  for (const flag of Object.keys(OPTIONS)) t.match(r.stdout, new RegExp(`--${flag}\\b`), `--${flag} is documented`)
  t.match(r.stdout, /"event":"listening"/, 'the listening line is documented')
  t.match(r.stdout, /SIGTERM/, 'shutdown is documented')
})

t.test('admission and rate-limit flags reach the server [SEC-2] [SEC-6]', async (t) => {
  const p = await serve([
    ...common,
    '--memory',
    '--log-level',
    'silent',
    '--max-connections',
    '1',
    '--user-rate',
    '1',
    '--user-burst',
    '1',
  ])
  t.teardown(() => p.child.kill('SIGKILL'))
  const server = { tcpAddress: p.listening.tcp, wsUrl: p.listening.ws }
  const a = await Peer.open('tcp', server)
  await a.login(SECRET, 'alice', 'a1')
  const b = await Peer.open('tcp', server)
  t.equal(await b.expectClose(), CloseCode.TRY_AGAIN_LATER, '--max-connections 1')
  // One Batch: both requests are handled at the same instant, so the wait is exactly one token (1000 ms).
  const list = (requestId: number) => create(FrameSchema, { body: { case: 'listConversations', value: { requestId } } })
  a.conn.send(encodeBatch([list(1), list(2)]))
  // Requests are answered in any order (the refusal needs no store read).
  const got = [await a.next(), await a.next()].map((f) =>
    f.body.case === 'error' ? [f.body.value.requestId, f.body.value.code, f.body.value.retryAfterMs] : [1, f.body.case],
  )
  got.sort((x, y) => Number(x[0]) - Number(y[0]))
  t.same(
    got,
    [
      [1, 'conversationList'],
      [2, ErrorCode.RATE_LIMITED, 1000],
    ],
    '--user-rate 1 --user-burst 1',
  )
  a.destroy()
  t.equal(spawnSync(process.execPath, [CLI, 'serve', '--user-rate', '0'], { encoding: 'utf8' }).status, 2)
})
