// Requirement ids from spec.md (bullets, bold ids, Appendix A) and the
// coverage judgement built on them.
import { join } from 'node:path'
import t from 'tap'
import { computeCoverage, loadCodecVectorRefs, renderCoverage } from '../commands/coverage.js'
import { kitPaths } from '../engine/paths.js'
import type { Scenario } from '../load/scenario-types.js'
import { loadSpecIndex, parseSpec } from '../load/spec-index.js'

const OUTLINE = `
## Handshake
- [HS-1] MUST: the client's first frame is Hello; anything else
  first → 3510.
- [HS-2] SHOULD: be nice.
- [SND-5] MUST (client): client_msg_id generated once.
Some prose with **[ACK-1]** The server MUST ack only after commit.
`

const WITH_INDEX = `${OUTLINE}
## Appendix A. Requirement index

| Id | Level | Party | Tested by | Summary |
|----|-------|-------|-----------|---------|
| [HS-1] | MUST | server | session | Hello first |
| HS-2 | SHOULD | server | session | nice |
| SND-5 | MUST | client | none: client rule, the suite tests servers | once |
| ACK-1 | MUST | server | session, codec | durable ack |
| LIM-1 | INFO | both | none: table | limits |
`

function scenario(id: string, requirements: string[]): Scenario {
  return {
    id,
    title: id,
    requirements,
    level: 'MUST',
    features: [],
    needs: [],
    timeoutMs: 1000,
    actors: {},
    steps: [],
    file: 'x.json',
  }
}

t.test('definitions are read from bullets and bold ids, with their level and text', async (t) => {
  const spec = parseSpec(OUTLINE)
  t.same([...spec.requirements.keys()].sort(), ['ACK-1', 'HS-1', 'HS-2', 'SND-5'])
  t.equal(spec.requirements.get('HS-1')?.level, 'MUST')
  t.match(spec.requirements.get('HS-1')?.text, /anything else first → 3510/, 'continuation lines are joined')
  t.equal(spec.requirements.get('HS-2')?.level, 'SHOULD')
  t.match(spec.requirements.get('ACK-1')?.text, /ack only after commit/)
  t.equal(spec.hasIndexTable, false)
})

t.test('without Appendix A every MUST needs a vector and client rules are exempt', async (t) => {
  const cov = computeCoverage(parseSpec(OUTLINE), [scenario('a.b', ['HS-1'])], [])
  const by = Object.fromEntries(cov.rows.map((r) => [r.id, r.status]))
  t.same(by, { 'ACK-1': 'missing', 'HS-1': 'covered', 'HS-2': 'untracked', 'SND-5': 'exempt' })
  t.equal(cov.ok, false)
  t.ok(computeCoverage(parseSpec(OUTLINE), [scenario('a.b', ['HS-1', 'ACK-1'])], []).ok)
})

t.test('Appendix A decides level, exemptions and which vector kinds a MUST needs', async (t) => {
  const spec = parseSpec(WITH_INDEX)
  t.equal(spec.hasIndexTable, true)
  t.equal(spec.requirements.get('SND-5')?.exempt, 'client rule, the suite tests servers')
  t.same(spec.requirements.get('ACK-1')?.testedBy, ['session', 'codec'])
  t.ok(spec.requirements.has('LIM-1'), 'ids only in the index exist too')
  const onlySession = computeCoverage(spec, [scenario('a.b', ['HS-1', 'ACK-1'])], [])
  t.equal(onlySession.rows.find((r) => r.id === 'ACK-1')?.status, 'missing', 'a codec vector is required as well')
  t.match(onlySession.rows.find((r) => r.id === 'ACK-1')?.note, /codec/)
  const full = computeCoverage(
    spec,
    [scenario('a.b', ['HS-1', 'ACK-1'])],
    [{ id: 'c1', requirements: ['ACK-1', 'NOPE-1'] }],
  )
  t.ok(full.ok)
  t.same(full.unknownCited, ['NOPE-1'])
  t.match(renderCoverage(full), /exempt +SND-5/)
})

t.test('the real spec defines the ids the example vectors cite', async (t) => {
  const paths = kitPaths()
  const spec = loadSpecIndex(paths.specPath)
  for (const id of ['HS-1', 'HS-11', 'ERR-2', 'AUTH-2', 'DLV-3']) t.ok(spec.requirements.has(id), id)
})

t.test('codec vector references are found in any JSON layout', async (t) => {
  const dir = t.testdir({
    'a.json': JSON.stringify({
      vectors: [
        { id: 'v1', requirements: ['FRM-1'] },
        { id: 'v2', nested: { id: 'v3', requirements: ['FRM-4'] } },
      ],
    }),
    sub: { 'b.json': JSON.stringify([{ id: 'v4', requirements: ['BAT-2'] }]) },
    'broken.json': '{',
  })
  const refs = loadCodecVectorRefs(dir)
  t.same(refs.map((r) => r.id).sort(), ['v1', 'v3', 'v4'])
  t.equal(refs.find((r) => r.id === 'v4')?.file, join('sub', 'b.json'))
})

t.test('bullets under a "client rules" heading are client rules', async (t) => {
  const spec = parseSpec(
    '## Retry (RTY) — client rules\n- [RTY-1] MUST: no retransmission.\n## Heartbeat\n- [HB-1] MUST: pong.\n',
  )
  t.equal(spec.requirements.get('RTY-1')?.party, 'client')
  t.equal(spec.requirements.get('HB-1')?.party, '')
  t.equal(computeCoverage(spec, [], []).rows.find((r) => r.id === 'RTY-1')?.status, 'exempt')
})
