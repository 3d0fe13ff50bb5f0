import path from 'node:path'
import { runCrashScenario } from './crash-scenario.js'
const fault = process.argv[2] ?? null
const r = await runCrashScenario({
  root: path.resolve('.'),
  fault: fault === 'ack-before-commit' ? fault : null,
  users: 8,
  messagesPerUser: 400,
  burst: 4,
  killAtFraction: 0.35,
  settleMs: 20000,
})
console.log({ ...r, violations: r.violations.length })
console.log(r.violations.slice(0, 30).join('\n'))
process.exit(0)
