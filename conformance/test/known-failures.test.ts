// Parsing the known-failures file.
import t from 'tap'
import { KnownFailuresError, knownFailureFor, matchesAny, parseKnownFailures } from '../engine/known-failures.js'
import { globMatch } from '../engine/glob.js'

t.test('entries are id globs with an optional transport prefix; comments and blanks are ignored', async (t) => {
  const list = parseKnownFailures(
    ['# header', '', 'dedupe.retry-*   # flaky dedupe', 'ws:limits.frame-too-large', '  tcp:*.idle?  '].join('\n'),
  )
  t.same(
    list.map((e) => [e.line, e.transport, e.glob]),
    [
      [3, null, 'dedupe.retry-*'],
      [4, 'ws', 'limits.frame-too-large'],
      [5, 'tcp', '*.idle?'],
    ],
  )
  t.equal(list[0]?.text, 'dedupe.retry-*   # flaky dedupe', 'the exact line is kept for "remove this line" messages')
})

t.test('a transport prefix restricts the entry to that transport', async (t) => {
  const list = parseKnownFailures('ws:limits.*\n')
  t.ok(knownFailureFor(list, 'limits.big', 'ws'))
  t.notOk(knownFailureFor(list, 'limits.big', 'tcp'))
  t.ok(matchesAny(list[0] as never, [{ id: 'limits.big', transport: 'ws' }]))
  t.notOk(matchesAny(list[0] as never, [{ id: 'limits.big', transport: 'tcp' }]))
})

t.test('malformed lines are rejected with their line number', async (t) => {
  t.throws(() => parseKnownFailures('ok.case\nquic:foo\n', 'kf.txt'), KnownFailuresError)
  t.throws(() => parseKnownFailures('two words\n'), /:1:/)
})

t.test('globs match whole ids: * any run, ? one character, dots literal', async (t) => {
  t.ok(globMatch('dedupe.*', 'dedupe.a.b'))
  t.notOk(globMatch('dedupe.*', 'xdedupe.a'))
  t.ok(globMatch('a?c', 'abc'))
  t.notOk(globMatch('a.c', 'abc'))
})
