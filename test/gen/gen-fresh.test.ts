// The committed generated code (src/gen for the product, test/gen/tsproto for
// the tests) must be exactly what `buf generate` produces from proto/ with
// the pinned local plugins. A proto edit without `npm run gen` fails here.
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import t from 'tap'

const root = new URL('../..', import.meta.url).pathname

function listFiles(dir: string): string[] {
  const out: string[] = []
  for (const name of readdirSync(dir)) {
    const p = join(dir, name)
    if (statSync(p).isDirectory()) out.push(...listFiles(p))
    else out.push(p)
  }
  return out.sort()
}

t.test('committed generated code equals a fresh buf generate', async (t) => {
  const out = mkdtempSync(join(tmpdir(), 'imwire-gen-'))
  t.teardown(() => rmSync(out, { recursive: true, force: true }))
  execFileSync(join(root, 'node_modules/.bin/buf'), ['generate', '--template', 'buf.gen.yaml', '-o', out], {
    cwd: root,
    env: { ...process.env, PATH: `${join(root, 'node_modules/.bin')}:${process.env.PATH}` },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  for (const dir of ['src/gen', 'test/gen/tsproto']) {
    const freshDir = join(out, dir)
    const committedDir = join(root, dir)
    const fresh = listFiles(freshDir).map((p) => relative(freshDir, p))
    const committed = listFiles(committedDir).map((p) => relative(committedDir, p))
    t.same(committed, fresh, `${dir}: same set of generated files`)
    for (const rel of fresh) {
      const a = readFileSync(join(freshDir, rel), 'utf8')
      const b = readFileSync(join(committedDir, rel), 'utf8')
      t.ok(a === b, `${dir}/${rel} is up to date (run \`npm run gen\`)`)
    }
  }
})
