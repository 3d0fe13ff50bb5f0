// The codec's one error family: every code maps to the close code that the
// requirement it enforces names in spec.md, and that close code is a terminal
// one listed in Appendix C. Read from the spec text, so the two cannot drift.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { CodecError, CodecErrorCode, closeCodeFor } from '../../src/codec/index.js'
import { CloseCode } from '../../src/gen/es/imwire/v1/control_pb.js'
import { root } from './helpers.js'

const spec = readFileSync(join(root, 'spec.md'), 'utf8')

/** The text of requirement `id` (its bullet, up to the next bullet or blank line). */
function requirement(id: string): string {
  const m = new RegExp(`^- \\*\\*\\[${id}\\]\\*\\*([\\s\\S]*?)(?=^- \\*\\*\\[|^\\s*$)`, 'm').exec(spec)
  if (m === null) throw new Error(`no requirement ${id} in spec.md`)
  return (m[1] as string).replace(/\s+/g, ' ')
}

/** The requirement each codec error enforces (as cited in src/codec/errors.ts). */
const ENFORCES: Record<CodecErrorCode, string> = {
  FRAME_TOO_LARGE: 'FRM-3',
  BAD_LENGTH_PREFIX: 'FRM-4',
  TRUNCATED_FRAME: 'FRM-8',
  MALFORMED_FRAME: 'FRM-5',
  BATCH_UNKNOWN_CODEC: 'BAT-2',
  BATCH_CODEC_NOT_ENABLED: 'HS-6',
  BATCH_COUNT_MISMATCH: 'BAT-3',
  BATCH_LENGTH_MISMATCH: 'BAT-4',
  BATCH_NESTED: 'BAT-7',
  BATCH_CORRUPT: 'BAT-6',
  BATCH_TOO_LARGE: 'BAT-5',
}

const appendixC = spec.slice(spec.indexOf('## Appendix C'), spec.indexOf('## Appendix D'))

t.same(Object.keys(ENFORCES).sort(), Object.values(CodecErrorCode).sort(), 'every codec error code is checked here')

for (const code of Object.values(CodecErrorCode)) {
  t.test(`${code} closes with the code [${ENFORCES[code]}] names`, async (t) => {
    const text = requirement(ENFORCES[code])
    const err = new CodecError(code, 'x')
    t.equal(err.closeCode, closeCodeFor[code], 'the error carries its close code')
    t.equal(err.code, code)
    if (code === 'TRUNCATED_FRAME') {
      // [FRM-8] a cut stream is a transport loss: nothing is sent back, so
      // there is no close code at all.
      t.match(text, /transport loss/, 'the spec calls it a transport loss')
      t.notMatch(text, /close with/, 'the spec names no close code for it')
      t.equal(err.closeCode, CloseCode.UNSPECIFIED, 'no close code')
      return
    }
    const named = /close with (\d{4})/.exec(text)
    t.ok(named, `[${ENFORCES[code]}] names a close code`)
    t.equal(closeCodeFor[code], Number(named?.[1]), `[${ENFORCES[code]}]: ${text.slice(0, 80)}...`)
    const row = new RegExp(`^\\| ${closeCodeFor[code]} \\| CLOSE_CODE_${CloseCode[closeCodeFor[code]]} \\| no \\|`, 'm')
    t.match(appendixC, row, 'listed in Appendix C under its proto name, as terminal')
  })
}
