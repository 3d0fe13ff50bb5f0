// The matcher: partial protobuf-JSON matching with operators, defaults,
// enums by name or number, and integers that arrive as strings.
import t from 'tap'
import { assign, isDefault, match } from '../judge/matcher.js'

const ok = (exp: unknown, act: unknown) => match(exp, act, new Map()).length === 0

t.test('fields not named in the matcher are ignored, named ones must match', async (t) => {
  const frame = { sendAck: { seq: '3', duplicate: false, conversationId: 'c' } }
  t.ok(ok({ sendAck: { seq: '3' } }, frame))
  t.notOk(ok({ sendAck: { seq: '4' } }, frame))
  t.notOk(ok({ deliver: {} }, frame), 'another body case does not match')
})

t.test('numbers and uint64 strings compare as integers', async (t) => {
  t.ok(ok({ seq: 3 }, { seq: '3' }))
  t.ok(ok({ seq: '3' }, { seq: 3 }))
  t.notOk(ok({ seq: 3 }, { seq: '30' }))
  t.ok(ok({ n: { $gt: '2', $lte: 3 } }, { n: '3' }))
  t.notOk(ok({ n: { $gt: '3' } }, { n: '3' }))
  t.ok(ok({ n: { $lt: 1 } }, {}), 'absent is 0')
})

t.test('an enum matches by name and by number', async (t) => {
  t.ok(ok({ close: { code: 'CLOSE_CODE_UNEXPECTED_FRAME' } }, { close: { code: 'CLOSE_CODE_UNEXPECTED_FRAME' } }))
  t.ok(ok({ close: { code: 3510 } }, { close: { code: 'CLOSE_CODE_UNEXPECTED_FRAME' } }))
  t.notOk(ok({ close: { code: 3509 } }, { close: { code: 'CLOSE_CODE_UNEXPECTED_FRAME' } }))
})

t.test('a default value matches an absent field; $absent requires the default', async (t) => {
  t.ok(ok({ x: { duplicate: false } }, { x: {} }))
  t.ok(ok({ x: { seq: '0' } }, { x: {} }))
  t.ok(ok({ x: { seq: { $absent: true } } }, { x: { seq: '0' } }))
  t.notOk(ok({ x: { seq: { $absent: true } } }, { x: { seq: '1' } }))
  t.ok(ok({ x: { seq: { $absent: false } } }, { x: { seq: '1' } }))
  t.ok(ok({ x: { message: { $absent: true } } }, { x: {} }), 'unset message field')
  t.ok(isDefault('CLOSE_CODE_UNSPECIFIED'))
})

t.test('arrays match element-wise in order with the same length', async (t) => {
  t.ok(ok({ a: [1, 2] }, { a: [1, 2] }))
  t.notOk(ok({ a: [2, 1] }, { a: [1, 2] }))
  t.notOk(ok({ a: [1] }, { a: [1, 2] }))
  t.ok(ok({ a: [{ id: 'x' }] }, { a: [{ id: 'x', more: 1 }] }), 'elements are partial too')
})

t.test('$unordered, $contains and $len judge arrays without order', async (t) => {
  t.ok(ok({ a: { $unordered: ['b', 'a'] } }, { a: ['a', 'b'] }))
  t.notOk(ok({ a: { $unordered: ['b', 'a'] } }, { a: ['a', 'b', 'c'] }))
  t.ok(ok({ a: { $contains: ['c'] } }, { a: ['a', 'b', 'c'] }))
  t.notOk(ok({ a: { $contains: ['c', 'c'] } }, { a: ['a', 'c'] }), 'each expected element needs its own actual element')
  t.ok(ok({ a: { $len: 2 } }, { a: ['a', 'b'] }))
  t.notOk(ok({ a: { $len: 1 } }, { a: ['a', 'b'] }))
})

t.test('$exact forbids fields the matcher does not name unless they are default', async (t) => {
  t.ok(ok({ $exact: { a: 1 } }, { a: 1, b: 0 }))
  t.notOk(ok({ $exact: { a: 1 } }, { a: 1, b: 2 }))
})

t.test('$oneOf, $not, $ne, $regex, $eq and $any', async (t) => {
  t.ok(ok({ c: { $oneOf: [3503, 3504] } }, { c: 'CLOSE_CODE_MALFORMED_FRAME' }))
  t.notOk(ok({ c: { $oneOf: [3503, 3505] } }, { c: 'CLOSE_CODE_MALFORMED_FRAME' }))
  t.ok(ok({ s: { $not: 'a' } }, { s: 'b' }))
  t.notOk(ok({ s: { $ne: 'b' } }, { s: 'b' }))
  t.ok(ok({ s: { $regex: '^ab+$' } }, { s: 'abbb' }))
  t.notOk(ok({ s: { $regex: '^ab+$' } }, { s: 'ac' }))
  t.ok(ok({ o: { $eq: { $weird: 1 } } }, { o: { $weird: 1 } }))
  t.ok(ok({ s: { $any: true } }, { s: 'whatever' }))
  t.notOk(ok({ s: { $bogus: 1 } }, { s: 1 }), 'unknown operators never match')
})

t.test('$capture records the value, and every mismatch names its path', async (t) => {
  const caps = new Map<string, unknown>()
  const mm = match(
    { sendAck: { seq: { $capture: 's1' }, messageId: 'x' } },
    { sendAck: { seq: '7', messageId: 'y' } },
    caps,
  )
  t.equal(caps.get('s1'), '7')
  t.same(
    mm.map((m) => m.path),
    ['sendAck.messageId'],
  )
})

t.test('assign finds a distinct partner for every expected element when one exists', async (t) => {
  t.same(assign([{ a: { $any: true } }, { a: 1 }], [{ a: 1 }, { a: 2 }]), [1, 0])
  t.equal(assign([{ a: 1 }, { a: 1 }], [{ a: 1 }, { a: 2 }]), null)
})
