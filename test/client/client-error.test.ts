// Close codes by range, as a client reads them. [ERR-4] [ERR-11]
import t from 'tap'
import { isTerminalClose } from '../../src/client/client-error.js'

t.test('3000-3499 and 4000-4499 are reconnectable; 3500-3999 and 4500-4999 terminal [ERR-11]', async (t) => {
  for (const code of [3000, 3001, 3400, 3499, 4000, 4321, 4499]) t.notOk(isTerminalClose(code), `${code} reconnects`)
  for (const code of [3500, 3509, 3777, 3999, 4500, 4700, 4999]) t.ok(isTerminalClose(code), `${code} is terminal`)
})
