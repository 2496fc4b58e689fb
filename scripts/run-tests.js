#!/usr/bin/env node
// Runs every test file (test/**/*.test.ts, through tsx) in one node:test run, one file at a time:
// the end-to-end tests share one real runtime. Arguments narrow the run to folders under test/
// (e.g. `unit`, `e2e`).
import {spawnSync} from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import {fileURLToPath} from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const testRoot = path.join(root, 'test')
const only = process.argv.slice(2)
const files = []
const walk = (dir) => {
  for (const e of fs.readdirSync(dir, {withFileTypes: true}).sort((a, b) => a.name.localeCompare(b.name))) {
    const p = path.join(dir, e.name)
    if (e.isDirectory()) walk(p)
    else if (e.name.endsWith('.test.ts')) files.push(p)
  }
}
walk(testRoot)
const selected = only.length ? files.filter((f) => only.some((o) => path.relative(testRoot, f).startsWith(o))) : files
if (selected.length === 0) {
  console.error(`no test files match ${only.join(' ')}`)
  process.exit(1)
}
const args = ['--import', 'tsx', '--test', '--test-concurrency=1', ...selected.map((f) => path.relative(root, f))]
const r = spawnSync(process.execPath, args, {stdio: 'inherit', cwd: root})
process.exit(r.status ?? 1)
