// Templates, value generators and the per-case scope behind them.
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: ${...} is the session language's template syntax, not JavaScript
import { createHmac } from 'node:crypto'
import t from 'tap'
import type { Scenario } from '../load/scenario-types.js'
import { CaseNames, CaseState, Scope, testToken } from '../engine/scope.js'
import { hexToBytes, parseExpr, resolveTemplates, TemplateError, varintHex } from '../engine/templating.js'

const scenario: Scenario = {
  id: 'x.y',
  title: 't',
  requirements: ['HS-1'],
  level: 'MUST',
  features: [],
  needs: [],
  timeoutMs: 1000,
  actors: {
    alice: { user: 'alice', device: 'alice-dev' },
    alice2: { user: 'alice', device: 'phone' },
    bob: { user: 'bob', device: 'bob-dev' },
  },
  steps: [],
  file: 'x.json',
}

function scope() {
  const state = new CaseState()
  return { state, scope: new Scope(new CaseNames(scenario, 'run1', 7, 'sec'), state) }
}

t.test('users, devices and conversations are fresh per run and case and keep logical-name order', async (t) => {
  const { scope: s } = scope()
  t.equal(resolveTemplates('${user.alice}', s), 'cf-run1-7-alice')
  t.equal(resolveTemplates('${user.alice2}', s), 'cf-run1-7-alice', 'an actor resolves to its user')
  t.equal(resolveTemplates('${device.alice2}', s), 'phone')
  t.equal(resolveTemplates('${conv.g}', s), 'cf-run1-7-g')
  t.ok(String(resolveTemplates('${user.alice}', s)) < String(resolveTemplates('${user.bob}', s)))
})

t.test('the test token is the AUTH-1 HMAC of the user id', async (t) => {
  const { scope: s } = scope()
  const user = 'cf-run1-7-bob'
  const mac = createHmac('sha256', 'sec').update(`imwire-test.v1.${user}`).digest('base64url')
  t.equal(resolveTemplates('${token.bob}', s), `imwire-test.v1.${user}.${mac}`)
  t.equal(testToken('sec', user), `imwire-test.v1.${user}.${mac}`)
  t.notMatch(mac, /[=+/]/, 'base64url without padding')
})

t.test(
  'a client message id is 16 random bytes, stable per name, one per loop iteration with an index segment',
  async (t) => {
    const { scope: s } = scope()
    const a = resolveTemplates('${msgid.m1}', s) as string
    t.equal(Buffer.from(a, 'base64').length, 16)
    t.equal(resolveTemplates('${msgid.m1}', s), a)
    t.not(resolveTemplates('${msgid.m2}', s), a)
    const in3 = resolveTemplates('${msgid.m.i}', s.withLoop('i', 3))
    t.equal(resolveTemplates('${msgid.m.3}', s), in3)
    t.not(resolveTemplates('${msgid.m.i}', s.withLoop('i', 4)), in3)
    t.equal(resolveTemplates('${conv.g.i}', s.withLoop('i', 2)), 'cf-run1-7-g.2')
  },
)

t.test('a whole-string template keeps its type; embedded ones interpolate', async (t) => {
  const { state, scope: s } = scope()
  state.captures.set('a1.welcome', { limits: { maxFrameBytes: 1048576 } })
  state.captures.set('seq', '41')
  t.equal(resolveTemplates('${cap.a1.welcome.limits.maxFrameBytes}', s), 1048576)
  t.equal(resolveTemplates('${cap.seq+1}', s), '42')
  t.equal(resolveTemplates('${cap.seq-41}', s), '0')
  t.equal(resolveTemplates('n=${cap.seq}!', s), 'n=41!')
  t.same(resolveTemplates('${cap.a1.welcome.limits}', s), { maxFrameBytes: 1048576 })
  t.equal(resolveTemplates('${i+1}', s.withLoop('i', 4)), '5')
})

t.test('value generators produce base64 bytes', async (t) => {
  const { scope: s } = scope()
  t.equal(Buffer.from(resolveTemplates({ $bytes: 5 }, s) as string, 'base64').length, 5)
  t.equal(Buffer.from(resolveTemplates({ $bytes: '${i+2}' }, s.withLoop('i', 1)) as string, 'base64').length, 3)
  t.equal(Buffer.from(resolveTemplates({ $utf8: 'hé' }, s) as string, 'base64').toString('utf8'), 'hé')
  t.same(resolveTemplates({ a: [{ $utf8: 'x' }] }, s), { a: ['eA=='] })
})

t.test('varint templates and hex strings produce exact bytes', async (t) => {
  const { scope: s } = scope()
  t.equal(varintHex(300n), 'ac02')
  t.equal(varintHex(2n ** 32n), '8080808010')
  t.equal(resolveTemplates('${varint:i+1} 0a', s.withLoop('i', 127)), '8001 0a')
  t.same([...hexToBytes('0a 00\nff')], [0x0a, 0x00, 0xff])
  t.throws(() => hexToBytes('0g'), TemplateError)
})

t.test('unknown names, captures and loop variables are template errors', async (t) => {
  const { scope: s } = scope()
  t.throws(() => resolveTemplates('${cap.nope}', s), TemplateError)
  t.throws(() => resolveTemplates('${var.nope}', s), TemplateError)
  t.throws(() => resolveTemplates('${i}', s), TemplateError)
  t.throws(() => resolveTemplates('${device.carol}', s), TemplateError)
  t.throws(() => resolveTemplates('${cap.seq+1}', s), TemplateError)
  t.throws(() => parseExpr('a b'), TemplateError)
})
