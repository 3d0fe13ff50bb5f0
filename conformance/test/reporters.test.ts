// Reporters: the JSON report validates against report.schema.json, JUnit is
// well-formed XML, TAP has one test point per case, the HTML page is
// self-contained and escapes everything it shows.
import { execFileSync } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import { XMLParser, XMLValidator } from 'fast-xml-parser'
import t from 'tap'
import { compileSchemaFile } from '../load/json-schema.js'
import { renderReport } from '../cli.js'
import { kitPaths } from '../engine/paths.js'
import { runSuite } from '../engine/run-suite.js'
import { ConsoleReporter } from '../report/console.js'
import type { Report } from '../report/report-types.js'
import { SECRET, TEST_VECTORS, withFakeServer } from './helpers.js'

const paths = kitPaths()

/** A real report with every verdict: pass, fail, skipped, expected-failure, error. */
async function mixedReport(): Promise<Report> {
  return withFakeServer(['bad-pong'], async (_s, targets) => {
    const report = await runSuite({
      targets,
      tokenSecret: SECRET,
      vectorsDir: TEST_VECTORS,
      allTranscripts: true,
      cases: ['runner.ping-pong-capture', 'runner.expect-set-any-order', 'runner.text-*', 'runner.restart-*'],
      knownFailures: [
        { line: 1, text: 'tcp:runner.expect-set-any-order', transport: 'tcp', glob: 'runner.expect-set-any-order' },
      ],
    })
    return report
  })
}

/** A synthetic report whose strings need escaping everywhere. */
function hostileReport(base: Report): Report {
  const evil = '<script>alert("x")</script> & ]]> \u0001 \u00e9'
  const c = base.cases[0]
  if (!c) throw new Error('no case')
  return {
    ...base,
    problems: [...base.problems, { kind: 'harness-error', message: evil }],
    cases: [
      {
        ...c,
        verdict: 'fail',
        title: evil,
        failure: {
          step: 'steps[1]',
          message: evil,
          stepJson: { comment: evil },
          expected: evil,
          actual: { x: evil },
          mismatches: [{ path: 'a.b', expected: evil, actual: evil, reason: evil }],
        },
        transcript: [
          { t: 1, conn: 'a1', dir: 'in', frame: { error: { message: evil } }, hex: '00' },
          { t: 2, conn: 'a1', dir: 'event', event: 'note', detail: evil },
        ],
      },
      ...base.cases.slice(1),
    ],
  }
}

t.test('reports with every verdict render in every format', async (t) => {
  const report = await mixedReport()
  const verdicts = new Set(report.cases.map((c) => c.verdict))
  t.same([...verdicts].sort(), ['expected-failure', 'fail', 'pass', 'skipped'], 'the fixture covers the verdicts')

  t.test('the JSON report validates against vectors/schema/report.schema.json', async (t) => {
    const validate = compileSchemaFile(paths.reportSchemaPath)
    for (const r of [report, hostileReport(report)]) {
      const parsed = JSON.parse(renderReport('json', r))
      t.ok(validate(parsed), JSON.stringify(validate.errors))
      t.equal(parsed.version, 1)
    }
    t.notOk(validate({ ...report, extra: 1 }), 'unknown top-level fields are rejected')
  })

  t.test('the JUnit file is well-formed XML with one testcase per case', async (t) => {
    for (const r of [report, hostileReport(report)]) {
      const xml = renderReport('junit', r)
      t.equal(XMLValidator.validate(xml), true)
      const doc = new XMLParser({ ignoreAttributes: false, attributeNamePrefix: '' }).parse(xml) as {
        testsuites: {
          tests: string
          failures: string
          testsuite: Array<{ testcase: unknown[] | unknown }> | { testcase: unknown[] | unknown }
        }
      }
      const suites = [doc.testsuites.testsuite].flat()
      const cases = suites.flatMap((s) => [s.testcase].flat())
      t.equal(cases.length, r.cases.length)
      t.equal(Number(doc.testsuites.tests), r.cases.length)
    }
    t.match(renderReport('junit', report), /<skipped message="expected failure: /)
    t.match(renderReport('junit', report), /<failure message="values differ"/)
  })

  t.test('TAP has a plan, one point per case, SKIP and TODO directives', async (t) => {
    const tap = renderReport('tap', report)
    const lines = tap.split('\n')
    t.equal(lines[0], 'TAP version 14')
    t.equal(lines[1], `1..${report.cases.length}`)
    t.equal(lines.filter((l) => /^(not )?ok \d+ - /.test(l)).length, report.cases.length)
    t.match(tap, /^ok \d+ - tcp runner.restart-keeps-serving .*# SKIP /m)
    t.match(tap, /^not ok \d+ - tcp runner.expect-set-any-order .*# TODO /m)
    t.match(tap, /^not ok \d+ - ws runner.ping-pong-capture/m)
    t.match(tap, /^ {2}---\n {2}verdict: fail/m)
  })

  t.test('the HTML page is self-contained, structured and escaped', async (t) => {
    const html = renderReport('html', hostileReport(report))
    t.match(html, /^<!DOCTYPE html>/)
    t.match(html, /<\/html>\n$/)
    t.notMatch(html, /<(link|img|iframe)\b/i, 'no external resources')
    t.notMatch(html, /\b(src|href)=/i)
    t.notMatch(html, /<script>alert/, 'server-controlled text is escaped')
    t.match(html, /&lt;script&gt;alert/)
    for (const id of ['run', 'summary', 'requirements', 'cases', 'problems']) t.match(html, new RegExp(`id="${id}"`))
    for (const c of report.cases) t.match(html, `id="${c.transport}:${c.id}"`)
    t.equal((html.match(/<details/g) ?? []).length, report.cases.length)
    t.equal((html.match(/<table/g) ?? []).length, (html.match(/<\/table>/g) ?? []).length)
    for (const r of report.requirements) t.match(html, `<td>${r.id}</td>`)
  })

  t.test('the HTML page renders in headless Chromium: summary, tables, escaped text, working filter', async (t) => {
    // Debian's chromium, installed by .ci/run. Missing is a failure, never a skip.
    const chromium = process.env.CHROMIUM ?? '/usr/bin/chromium'
    if (!existsSync(chromium)) {
      t.fail(`${chromium} is missing: install Debian's chromium (.ci/run does) or set CHROMIUM`)
      return
    }
    const hostile = hostileReport(report)
    const dir = t.testdir({})
    const page = join(dir, 'r.html')
    // After load, run the page's own filter as a reader clicking "fail" would.
    writeFileSync(page, renderReport('html', hostile).replace('</body>', "<script>show('fail')</script></body>"))
    const dom = execFileSync(
      chromium,
      [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        `--user-data-dir=${join(dir, 'profile')}`,
        '--dump-dom',
        pathToFileURL(page).href,
      ],
      // a hang guard, not a timed assertion
      { encoding: 'utf8', timeout: 120_000, stdio: ['ignore', 'pipe', 'ignore'] },
    )
    t.match(dom, /<title>imwire conformance — failures<\/title>/)
    t.match(dom, /<h1>imwire conformance report <small class="fail">failures \(exit 1\)<\/small><\/h1>/)
    const s = hostile.summary
    t.match(dom, `<span class="pass">${s.passed} passed</span>`)
    t.match(dom, `<span class="skipped">${s.skipped} skipped</span>`)
    const reqTable = /<table id="requirements">([\s\S]*?)<\/table>/.exec(dom)?.[1] ?? ''
    t.equal((reqTable.match(/<tr/g) ?? []).length, hostile.requirements.length + 1, 'one row per requirement')
    // every case is a <details>; the filter hid all but the failing ones
    const details = [...dom.matchAll(/<details data-verdict="([a-z-]+)"([^>]*)>/g)]
    t.equal(details.length, hostile.cases.length)
    for (const [, verdict, attrs] of details) {
      if (verdict === 'fail') t.notMatch(attrs, /display: none/, 'failing cases stay visible')
      else t.match(attrs, /style="display: none;"/, `${verdict} cases are hidden by show('fail')`)
      if (verdict === 'fail') t.match(attrs, /\bopen=""/, 'failing cases are open')
    }
    // server-controlled text arrived as text: no element was made from it
    t.notMatch(dom, /<script>alert/)
    t.match(dom, /&lt;script&gt;alert\("x"\)&lt;\/script&gt; &amp; ]]&gt;/)
    t.equal((dom.match(/<script>/g) ?? []).length, 2, "the page's own script and the test's, nothing else")
    t.match(dom, /<td><code>a\.b<\/code><\/td>/, 'the mismatch table rendered')
  })

  t.test('the console reporter prints a line per case with --verbose', async (t) => {
    let out = ''
    const r = new ConsoleReporter(
      {
        write: (s: string) => {
          out += s
          return true
        },
        isTTY: false,
      },
      { verbose: true },
    )
    for (const [i, c] of report.cases.entries()) r.onCaseEnd(c, i + 1, report.cases.length)
    t.match(out, /^FAIL ws:runner.ping-pong-capture \(\d+ ms\)$/m)
    t.notMatch(out, /failed so far/)
  })

  t.test('the console reporter prints failures with their transcript and a summary line', async (t) => {
    let out = ''
    const r = new ConsoleReporter({
      write: (s: string) => {
        out += s
        return true
      },
      isTTY: false,
    })
    for (const [i, c] of report.cases.entries()) r.onCaseEnd(c, i + 1, report.cases.length)
    r.onEnd(report)
    t.notMatch(out, /FAIL ws:runner.ping-pong-capture \(/, 'no line per case in a log')
    t.match(out, /^\[\d+\/\d+\] \d+ failed so far$/m, 'progress per tenth of the run')
    t.match(out, /^failures by cause \(\d+ signatures?, most cases first\):$/m, 'causes lead the report')
    t.match(out, /── MUST FAILURE (tcp|ws):runner.ping-pong-capture ──/, 'the case to read first comes in full')
    t.match(out, /failed at steps\[3\]: values differ/)
    t.match(out, /transcript:\n.*step steps\[0\] connect alice/)
    t.match(out, /← pong \{"nonce":"43"\}/)
    t.match(out, /MUST failures \(\d+\): /)
    t.match(out, /expected failures \(1\): tcp:runner.expect-set-any-order/)
    t.match(out, /skipped \d+: needs a server the runner can restart/)
    t.match(
      out,
      /\d+ passed, \d+ failed \(\d+ MUST, 0 SHOULD\), \d+ skipped, 1 expected failures in [\d.]+ s — failures \(exit 1\)$/m,
    )
    t.notMatch(out, /\x1b\[/, 'no colour codes when not a TTY')
  })
})
