// One self-contained HTML page: summary, per-requirement table, and every
// case with its failure and transcript. No external resources (CSS and the
// small filter script are inline), so the file can be attached to CI runs.
import type { CaseResult } from '../engine/case-types.js'
import type { TranscriptEntry } from '../engine/transcript.js'
import { caseLabel, describeTarget, short } from './format.js'
import type { Report } from './report-types.js'

export function htmlEscape(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em}h2{font-size:1.15em;margin-top:1.5em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
.pass{color:#176c2c}.fail,.error{color:#b3001b;font-weight:600}.skipped,.expected-failure,.inconclusive{color:#8a6100}
.cards span{display:inline-block;margin-right:1em;padding:.3em .7em;border:1px solid #ccc;border-radius:4px}
details{margin:.2em 0}summary{cursor:pointer}pre,code{font:12px/1.35 ui-monospace,monospace}
pre{background:#f6f6f6;padding:.5em;overflow-x:auto;white-space:pre-wrap;word-break:break-all}
.tr{table-layout:fixed;width:100%}.tr th:nth-child(1){width:4.5em}.tr th:nth-child(2){width:4em}.tr th:nth-child(3){width:1.5em}.tr th:nth-child(5){width:28%}
.tr td{font:12px ui-monospace,monospace;overflow-wrap:anywhere;word-break:break-all}.hex{color:#666;word-break:break-all}.dir-in{color:#0b4f8a}.dir-out{color:#6a2c8a}.dir-event{color:#666}
#filters button{margin-right:.4em}
`

const SCRIPT = `
function show(v){document.querySelectorAll('[data-verdict]').forEach(function(e){e.style.display=(v==='all'||e.dataset.verdict===v)?'':'none'})}
`

export function renderHtml(report: Report): string {
  const s = report.summary
  const h: string[] = []
  h.push('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">')
  h.push(`<title>imwire conformance — ${htmlEscape(report.outcome)}</title>`)
  h.push(`<style>${CSS}</style><script>${SCRIPT}</script></head><body>`)
  h.push(
    `<h1>imwire conformance report <small class="${report.exitCode === 0 ? 'pass' : 'fail'}">${htmlEscape(report.outcome)} (exit ${report.exitCode})</small></h1>`,
  )
  h.push('<table id="run">')
  const row = (k: string, v: string) => h.push(`<tr><th>${k}</th><td>${v}</td></tr>`)
  row(
    'target',
    htmlEscape(
      `${report.target.mode}${report.target.command ? ` — ${report.target.command}` : ''} ${describeTarget(report.target)}`,
    ),
  )
  row('transports', htmlEscape(report.transports.join(', ')))
  row(
    'features',
    htmlEscape(report.transports.map((t) => `${t}: ${(report.features[t] ?? []).join(', ') || '(none)'}`).join('; ')),
  )
  row('kit', htmlEscape(`${report.kit.name} ${report.kit.version}, run ${report.runId}, ${report.startedAt}`))
  row(
    'options',
    htmlEscape(
      `jobs ${report.options.jobs}, time-scale ${report.options.timeScale}${report.options.strict ? ', strict' : ''}`,
    ),
  )
  h.push('</table>')
  // Counts are styled as an alarm only when they are not zero.
  const card = (n: number, cls: string, text: string) => `<span class="${n > 0 ? cls : ''}">${text}</span>`
  h.push('<div class="cards" id="summary">')
  h.push(
    `<span class="pass">${s.passed} passed</span>${card(s.failed, 'fail', `${s.failed} failed (${s.mustFailed} MUST, ${s.shouldFailed} SHOULD)`)}`,
  )
  h.push(card(s.inconclusive, 'inconclusive', `${s.inconclusive} inconclusive`))
  h.push(
    `${card(s.skipped, 'skipped', `${s.skipped} skipped`)}${card(s.expectedFailures, 'expected-failure', `${s.expectedFailures} expected failures`)}`,
  )
  h.push(
    `${card(s.errors, 'error', `${s.errors} harness errors`)}<span>${(s.durationMs / 1000).toFixed(1)} s</span></div>`,
  )
  if (report.failureGroups.length || report.slowServer?.cases.length) {
    h.push('<h2>Failures by cause</h2><table id="causes"><tr><th>cases</th><th>signature</th><th>read first</th></tr>')
    for (const g of report.failureGroups)
      h.push(
        `<tr><td>${g.count}</td><td><code>${htmlEscape(g.signature)}</code></td><td><code>${htmlEscape(g.readFirst)}</code> <small>[${htmlEscape(g.readFirstRequirements.join(' '))}]</small></td></tr>`,
      )
    h.push('</table>')
    if (report.failingRequirements.length)
      h.push(
        `<p id="failing-requirements">requirements by failing cases: ${htmlEscape(report.failingRequirements.map((r) => `${r.id} ${r.failed}`).join(', '))}</p>`,
      )
    const slow = report.slowServer
    if (slow?.cases.length)
      h.push(
        `<p class="fail" id="slow-server">slow server: ${htmlEscape(slow.cases.map((c) => `${c.case} ${c.medianMs} ms`).join(', '))} (run median ${slow.runMedianMs} ms)</p>`,
      )
  }
  if (report.problems.length) {
    h.push('<h2>Problems</h2><ul id="problems">')
    for (const p of report.problems)
      h.push(`<li class="fail">${htmlEscape(p.kind)}: <pre>${htmlEscape(p.message)}</pre></li>`)
    h.push('</ul>')
  }
  h.push(
    '<h2>Requirements</h2><table id="requirements"><tr><th>id</th><th>level</th><th>cases</th><th>passed</th><th>failed</th><th>other</th><th>text</th></tr>',
  )
  for (const r of report.requirements) {
    const cls = r.failed + r.errors > 0 ? 'fail' : r.passed === r.cases ? 'pass' : 'skipped'
    h.push(
      `<tr class="${cls}"><td>${htmlEscape(r.id)}</td><td>${htmlEscape(r.level)}</td><td>${r.cases}</td><td>${r.passed}</td><td>${r.failed}</td><td>${r.skipped + r.expectedFailures + r.errors + r.inconclusive}</td><td>${htmlEscape(r.text)}</td></tr>`,
    )
  }
  h.push('</table>')
  h.push('<h2>Cases</h2><div id="filters">')
  for (const v of ['all', 'fail', 'error', 'inconclusive', 'expected-failure', 'skipped', 'pass'])
    h.push(`<button type="button" onclick="show('${v}')">${v}</button>`)
  h.push('</div><div id="cases">')
  const order: Record<CaseResult['verdict'], number> = {
    fail: 0,
    error: 1,
    inconclusive: 2,
    'expected-failure': 3,
    skipped: 4,
    pass: 5,
  }
  for (const c of [...report.cases].sort((a, b) => order[a.verdict] - order[b.verdict])) h.push(caseHtml(c))
  h.push('</div></body></html>')
  return `${h.join('\n')}\n`
}

function caseHtml(c: CaseResult): string {
  const parts: string[] = []
  parts.push(
    `<details data-verdict="${c.verdict}" id="${htmlEscape(caseLabel(c))}"${c.verdict === 'fail' || c.verdict === 'error' || c.verdict === 'inconclusive' ? ' open' : ''}>`,
  )
  parts.push(
    `<summary><span class="${c.verdict}">${c.verdict}</span> <code>${htmlEscape(caseLabel(c))}</code> ${htmlEscape(c.title)} <small>[${htmlEscape(c.level)} ${htmlEscape(c.requirements.join(' '))}] ${c.durationMs} ms</small></summary>`,
  )
  if (c.reason) parts.push(`<p>${htmlEscape(c.reason)}</p>`)
  if (c.failure) {
    const f = c.failure
    parts.push(`<p class="fail">failed at <code>${htmlEscape(f.step)}</code>: ${htmlEscape(f.message)}</p>`)
    if (f.stepJson !== undefined) parts.push(`<pre>${htmlEscape(JSON.stringify(f.stepJson, null, 1))}</pre>`)
    if (f.mismatches?.length) {
      parts.push('<table><tr><th>field</th><th>why</th><th>expected</th><th>actual</th></tr>')
      for (const m of f.mismatches)
        parts.push(
          `<tr><td><code>${htmlEscape(m.path)}</code></td><td>${htmlEscape(m.reason)}</td><td><code>${htmlEscape(short(m.expected))}</code></td><td><code>${htmlEscape(short(m.actual))}</code></td></tr>`,
        )
      parts.push('</table>')
    }
    if (f.expected !== undefined) parts.push(`<p>expected</p><pre>${htmlEscape(short(f.expected, 5000))}</pre>`)
    if (f.actual !== undefined) parts.push(`<p>actual</p><pre>${htmlEscape(short(f.actual, 5000))}</pre>`)
  }
  if (c.transcript.length) parts.push(transcriptHtml(c.transcript))
  parts.push('</details>')
  return parts.join('\n')
}

function transcriptHtml(entries: TranscriptEntry[]): string {
  const rows = entries.map((e) => {
    const what = e.frame !== undefined ? JSON.stringify(e.frame) : `${e.event ?? ''} ${e.detail ?? ''}`
    const tags = [e.batched ? 'batched' : '', e.auto ? 'auto' : ''].filter(Boolean).join(' ')
    const hex = e.hex !== undefined ? `${e.hex}${e.bytes !== undefined ? `… (${e.bytes} B)` : ''}` : ''
    return `<tr class="dir-${e.dir}"><td>${e.t.toFixed(1)}</td><td>${htmlEscape(e.conn)}</td><td>${e.dir === 'out' ? '→' : e.dir === 'in' ? '←' : '•'}</td><td><code>${htmlEscape(what)}</code> ${htmlEscape(tags)}</td><td class="hex">${htmlEscape(hex)}</td></tr>`
  })
  return `<table class="tr"><tr><th>ms</th><th>conn</th><th></th><th>frame / event</th><th>hex</th></tr>${rows.join('')}</table>`
}
