// The README's 30-second example starts the server in the background and
// stops it with `kill $SERVER`. Run as a script, that must stop the server
// itself: `npx imwire serve &` would make $! npm's pid and leave the server
// orphaned. The line is taken from README.md, so the two cannot drift.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'

const ROOT = new URL('../..', import.meta.url).pathname

t.test("the README's background server stops on `kill $SERVER`, leaving nothing behind", async (t) => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const serve = /^(.* serve .*) &$/m.exec(readme)?.[1]
  t.ok(serve, 'the README starts a server in the background')
  t.notMatch(serve ?? '', /\bnpx\b/, 'not through npx, whose pid is not the server')
  t.match(readme, /^SERVER=\$!$/m)
  t.match(readme, /^kill \$SERVER\b/m)
  if (!existsSync(join(ROOT, 'dist/src/cli/main.js'))) return t.fail('dist/ is not built: npm run build')
  const dir = mkdtempSync(join(tmpdir(), 'imwire-readme-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Same command, on free ports and a temporary data directory.
  const line = (serve as string)
    .replace(/127\.0\.0\.1:\d+/g, '127.0.0.1:0')
    .replace('--data-dir ./data', `--data-dir ${dir}`)
  const script = `${line} > ${dir}/out 2> ${dir}/err &
SERVER=$!
for i in $(seq 100); do grep -q listening ${dir}/out && break; sleep 0.1; done
cat ${dir}/out
kill $SERVER
wait $SERVER
echo "exit $?"
`
  const r = spawnSync('bash', ['-c', script], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 })
  const listening = /\{"event":"listening".*\}/.exec(r.stdout)?.[0]
  t.ok(listening, `the server printed its listening line (${r.stdout}${r.stderr})`)
  t.match(r.stdout, /^exit 0$/m, 'the server itself got SIGTERM and exited 0')
  const tcp = (JSON.parse(listening ?? '{}') as { tcp?: string }).tcp ?? ''
  const [host, port] = tcp.split(':')
  const refused = await new Promise<boolean>((resolve) => {
    const s = connect(Number(port), host as string)
    s.on('connect', () => {
      s.destroy()
      resolve(false)
    })
    s.on('error', () => resolve(true))
  })
  t.ok(refused, `nothing listens on ${tcp} any more`)
})
