// Start-up cost of the CLI against `node -e 0` measured in the same run: `podrun --version` must not
// load the gRPC stack; `podrun version` connects to the runtime (needs CONTAINER_RUNTIME_ENDPOINT).
// Run: npm run build && node --import tsx bench/startup.bench.ts
import path from 'node:path'
import {fileURLToPath} from 'node:url'
import {fmtMs, timeProcess} from './lib/timing.js'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const bin = path.join(root, 'bin', 'run.js')
const node = process.execPath

const base = timeProcess([node, '-e', '0'], 9)
const rows: [string, number][] = [['node -e 0', base.medianMs]]
rows.push(['podrun --version', timeProcess([node, bin, '--version'], 9).medianMs])
rows.push(['podrun --help', timeProcess([node, bin, '--help'], 9).medianMs])
if (process.env.CONTAINER_RUNTIME_ENDPOINT) rows.push(['podrun version (real runtime)', timeProcess([node, bin, 'version'], 9).medianMs])
else console.log('podrun version: skipped, CONTAINER_RUNTIME_ENDPOINT is not set')

console.log('command                          median    x node -e 0')
for (const [name, ms] of rows) console.log(`${name.padEnd(32)} ${fmtMs(ms).padStart(7)}    ${(ms / base.medianMs).toFixed(2)}x`)
