// The broken-client README lists what client-broken-clients.ts holds: a
// broken client or a scenario added without regenerating it fails here.
import { readFileSync } from 'node:fs'
import t from 'tap'
import { CLIENT_README_PATH, renderClientReadme } from './client-readme.js'

t.test('conformance/test/CLIENT-SELFTEST.md is generated from the broken clients and the scenarios', async (t) => {
  t.equal(
    readFileSync(CLIENT_README_PATH, 'utf8'),
    renderClientReadme(),
    'stale: run node --import tsx conformance/test/client-readme.ts --write',
  )
})
