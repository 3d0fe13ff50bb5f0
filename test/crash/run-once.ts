import path from 'node:path'
import { runCrashScenario, singleNode } from './crash-scenario.js'
const fault = process.argv[2] === 'ack-before-commit' ? 'ack-before-commit' : null
const deployment = await singleNode({ root: path.resolve('.'), fault, killAtFraction: 0.35, settleMs: 20000 })
const r = await runCrashScenario(deployment, { users: 8, messagesPerUser: 400, burst: 4, settleMs: 20000 })
console.log({ ...r, violations: r.violations.length })
console.log(r.violations.slice(0, 30).join('\n'))
process.exit(0)
