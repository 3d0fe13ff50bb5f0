// The reference client's adapter as a program:
//   node dist/conformance/client/reference-adapter-main.js --state DIR
// The kit starts it with `--client "node .../reference-adapter-main.js --state {statedir}"`.
import { mkdirSync } from 'node:fs'
import { parseArgs } from 'node:util'
import { runAdapter } from './reference-adapter.js'

const { values } = parseArgs({ options: { state: { type: 'string' } } })
if (values.state === undefined) {
  process.stderr.write('usage: reference-adapter-main --state DIR\n')
  process.exit(2)
}
mkdirSync(values.state, { recursive: true })
await runAdapter({ input: process.stdin, write: (b) => process.stdout.write(b) }, values.state)
// Stop answered: flush stdout, then exit 0 (timers of a closed client must not keep us alive).
process.stdout.write('', () => process.exit(0))
