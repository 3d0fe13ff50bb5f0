// Loading session vectors: schema, ids, requirement ids, frame shapes,
// template references. Every problem is a load error, never a silent skip.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the session language's template syntax, not JavaScript
import { readdirSync } from 'node:fs'
import t, { type Test } from 'tap'
import { kitPaths } from '../engine/paths.js'
import { loadSpecIndex } from '../load/spec-index.js'
import { loadScenarios } from '../load/vector-loader.js'

const paths = kitPaths()
const spec = loadSpecIndex(paths.specPath)

function scenario(over: Record<string, unknown> = {}, steps?: unknown[]): Record<string, unknown> {
  return {
    id: 'test.case',
    title: 'a case',
    requirements: ['HS-1'],
    level: 'MUST',
    actors: { alice: {} },
    steps: steps ?? [
      { connect: 'alice', conn: 'a1' },
      { send: 'a1', frame: { ping: { nonce: '1' } } },
      { expect: 'a1', frame: { pong: { nonce: '1' } } },
    ],
    ...over,
  }
}

function load(t: Test, ...scenarios: Array<Record<string, unknown>>) {
  const dir = t.testdir({ 'a.json': JSON.stringify({ kind: 'session', version: 1, scenarios }) })
  return loadScenarios({ dir, schemaPath: paths.schemaPath, spec })
}

function errorsOf(t: Test, ...scenarios: Array<Record<string, unknown>>): string[] {
  return load(t, ...scenarios).errors.map((e) => `${e.where}: ${e.message}`)
}

t.test('every vector file in vectors/session loads without errors', async (t) => {
  const res = loadScenarios({ dir: paths.vectorsDir, schemaPath: paths.schemaPath, spec })
  t.same(
    res.errors.map((e) => `${e.file} ${e.where}: ${e.message}`),
    [],
  )
  t.equal(res.files.length, readdirSync(paths.vectorsDir).filter((f) => f.endsWith('.json')).length)
  t.ok(res.scenarios.length >= 5)
})

t.test('a valid scenario loads with defaults filled in', async (t) => {
  const res = load(t, scenario())
  t.same(res.errors, [])
  const s = res.scenarios[0]
  t.same(s?.actors, { alice: { user: 'alice', device: 'alice-dev' } })
  t.same([s?.features, s?.needs, s?.timeoutMs], [[], [], 10000])
})

t.test('unknown fields anywhere are load errors', async (t) => {
  t.match(errorsOf(t, scenario({ colour: 'red' })).join('\n'), /unknown field 'colour'/)
  t.match(
    errorsOf(t, scenario({}, [{ connect: 'alice', conn: 'a1', helo: {} }])).join('\n'),
    /steps\/0: unknown field 'helo'/,
  )
  t.match(
    errorsOf(
      t,
      scenario({}, [
        { connect: 'alice', conn: 'a1' },
        { expect: 'a1', frame: { pong: { nonse: '1' } } },
      ]),
    ).join('\n'),
    /pong.nonse: no such field/,
  )
  t.match(
    errorsOf(
      t,
      scenario({}, [
        { connect: 'alice', conn: 'a1' },
        { send: 'a1', frame: { pong: { nonce: { $gt: 1 } } } },
      ]),
    ).join('\n'),
    /operators are not allowed in a frame to send/,
  )
})

t.test('unknown feature names, needs and verbs are load errors', async (t) => {
  t.match(errorsOf(t, scenario({ features: ['zstd'] })).join('\n'), /allowed values/)
  t.match(errorsOf(t, scenario({ needs: ['tls'] })).join('\n'), /allowed values/)
  t.match(errorsOf(t, scenario({}, [{ teleport: 'a1' }])).join('\n'), /no known verb/)
  t.match(errorsOf(t, scenario({}, [{ sleep: 1, send: 'a1' }])).join('\n'), /several verbs/)
})

t.test('ids are unique across files and requirement ids must exist in spec.md', async (t) => {
  const dir = t.testdir({
    'a.json': JSON.stringify({ kind: 'session', version: 1, scenarios: [scenario()] }),
    'b.json': JSON.stringify({ kind: 'session', version: 1, scenarios: [scenario({ requirements: ['HS-999'] })] }),
  })
  const msgs = loadScenarios({ dir, schemaPath: paths.schemaPath, spec }).errors.map((e) => e.message)
  t.match(msgs.join('\n'), /duplicate id test.case \(also in a.json\)/)
  t.match(msgs.join('\n'), /HS-999 is not a requirement id in spec.md/)
})

t.test('wrong field types and enum names are caught against the proto', async (t) => {
  const errs = errorsOf(
    t,
    scenario({}, [
      { connect: 'alice', conn: 'a1', hello: { heartbeatMs: 'soon', token: null } },
      { send: 'a1', frame: { send: { clientMsgId: 'not base64!', sendSeq: 1.5 } } },
      { expect: 'a1', frame: { close: { code: 'CLOSE_CODE_NOPE' } } },
    ]),
  ).join('\n')
  t.match(errs, /hello.heartbeatMs: expected an integer/)
  t.notMatch(errs, /token/, 'null removes a Hello field and is allowed')
  t.match(errs, /clientMsgId: expected base64 bytes/)
  t.match(errs, /sendSeq: expected an integer/)
  t.match(errs, /CLOSE_CODE_NOPE" is not a value of imwire.v1.CloseCode/)
  const twoBodies = errorsOf(
    t,
    scenario({}, [
      { connect: 'alice', conn: 'a1' },
      { expect: 'a1', frame: { send: {}, sendAck: {} } },
    ]),
  )
  t.same(
    twoBodies,
    ['/scenarios/0/steps/1/frame: must NOT have more than 1 properties'],
    'one clear message per bad step',
  )
})

t.test('template references must name actors, captures, variables and loop variables that exist', async (t) => {
  const errs = errorsOf(
    t,
    scenario({}, [
      { connect: 'alice', conn: 'a1' },
      {
        send: 'a1',
        frame: { send: { conversationId: '${conv.g}', clientMsgId: '${msgid.m.i}', body: '${cap.nothing}' } },
      },
      { send: 'a1', frame: { hello: { token: '${token.carol}', deviceId: '${device.bob}' } } },
      { send: 'a1', frame: { ping: { nonce: '${var.n}' } } },
      { send: 'a1', frame: { ping: { nonce: '${j}' } } },
      { send: 'a1', frame: { ping: { nonce: '${wat.x}' } } },
      { repeat: 2, steps: [{ send: 'a1', frame: { send: { clientMsgId: '${msgid.m.i}' } } }] },
    ]),
  ).join('\n')
  t.match(errs, /steps\[1\].*'i' is neither a number nor a loop variable/)
  t.match(errs, /nothing captures 'nothing'/)
  t.match(errs, /'carol' is neither an actor nor an actor's user/)
  t.match(errs, /'bob' is not an actor/)
  t.match(errs, /no set step defines 'n'/)
  t.match(errs, /'j' is not a loop variable here/)
  t.match(errs, /unknown namespace 'wat'/)
  t.notMatch(errs, /steps\[6\]/, 'inside the repeat, i is a loop variable')
})

t.test('connections must be opened before use, and transport-bound verbs need their need', async (t) => {
  const errs = errorsOf(
    t,
    scenario({}, [
      { send: 'a1', frame: { ping: {} } },
      { connect: 'alice', conn: 'a1' },
      { sendText: 'a1', text: 'x' },
      { restartServer: {} },
    ]),
  ).join('\n')
  t.match(errs, /connection 'a1' is used before any connect step opens it/)
  t.match(errs, /sendText needs "needs": \["ws-only"\]/)
  t.match(errs, /restartServer needs "needs": \["restart"\]/)
  t.match(errorsOf(t, scenario({ needs: ['tcp-only', 'ws-only'] })).join('\n'), /both tcp-only and ws-only/)
})

t.test('WebSocket upgrade options need ws-only, and a refused connection cannot be used [FRM-12]', async (t) => {
  const tcp = errorsOf(t, scenario({}, [{ connect: 'alice', conn: 'a0', subprotocols: [], refused: true }])).join('\n')
  t.match(tcp, /subprotocols and refused are WebSocket options/)
  const used = errorsOf(
    t,
    scenario({ needs: ['ws-only'] }, [
      { connect: 'alice', conn: 'a0', subprotocols: [], refused: true, hello: { deviceId: 'x' } },
      { send: 'a0', frame: { ping: { nonce: '1' } } },
    ]),
  ).join('\n')
  t.match(used, /'hello' makes no sense on a connection that must be refused/)
  t.match(used, /connection 'a0' is used before any connect step opens it/)
  t.match(
    errorsOf(t, scenario({ needs: ['ws-only'] }, [{ connect: 'alice', subprotocols: ['a b'] }])).join('\n'),
    /subprotocols/,
    'a subprotocol is an HTTP token',
  )
  t.same(
    errorsOf(
      t,
      scenario({ needs: ['ws-only'] }, [{ connect: 'alice', conn: 'a0', subprotocols: ['chat'], refused: true }]),
    ),
    [],
  )
})

t.test('captures made by $capture and by capture options are known to later templates', async (t) => {
  const res = load(
    t,
    scenario({}, [
      { connect: 'alice', conn: 'a1' },
      { send: 'a1', frame: { ping: { nonce: '7' } } },
      { expect: 'a1', frame: { pong: { nonce: { $capture: 'n' } } }, capture: { again: 'pong.nonce' } },
      { assert: { equal: ['${cap.n}', '${cap.again}', '${cap.a1.welcome.version}'] } },
    ]),
  )
  t.same(res.errors, [])
})

t.test('a file that is not JSON, or not a session file, is a load error', async (t) => {
  const dir = t.testdir({ 'bad.json': '{', 'other.json': JSON.stringify({ kind: 'codec', version: 1, scenarios: [] }) })
  const msgs = loadScenarios({ dir, schemaPath: paths.schemaPath, spec }).errors.map((e) => `${e.file}: ${e.message}`)
  t.match(msgs.join('\n'), /bad.json: not JSON/)
  t.match(msgs.join('\n'), /other.json: .*(constant|must)/)
})
