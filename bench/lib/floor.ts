// Prepares the floor client (bench/raw-cri.ts) to run the way podrun runs: plain `node` on
// compiled JavaScript, loading the compiled bindings from dist/gen and @grpc/grpc-js from the
// project's node_modules, with no TypeScript loader in the process. Running it through tsx would
// add ~250 ms of loader start-up to every floor run and flatter podrun.
//
// Files are transpiled with TypeScript into a folder of the caller's choosing (the benchmark's
// temporary folder), without bundling, so module loading stays comparable. Their imports are
// pointed at absolute files: the generated bindings at dist/ instead of src/, and @grpc/grpc-js
// at the very file podrun's bindings load, so both share one module instance. The CRI trace
// preload (bench/lib/cri-trace.ts) is compiled the same way, so traced runs are plain node too.
import fs from 'node:fs'
import path from 'node:path'
import {createRequire} from 'node:module'
import {pathToFileURL} from 'node:url'
import ts from 'typescript'

const SRC_BINDINGS = '../src/gen/runtime/v1/api.js'
const GRPC = '@grpc/grpc-js'

function compile(root: string, rel: string, outFile: string, rewrite: Record<string, string>): string {
  const src = path.join(root, rel)
  let js = ts.transpileModule(fs.readFileSync(src, 'utf8'), {
    fileName: src,
    compilerOptions: {target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.ESNext, sourceMap: false},
  }).outputText
  for (const [from, to] of Object.entries(rewrite)) {
    if (!js.includes(`'${from}'`)) throw new Error(`${rel} no longer imports '${from}': update bench/lib/floor.ts`)
    js = js.split(`'${from}'`).join(`'${to}'`)
  }
  const left = [...js.matchAll(/from\s+'([^']+)'/g)].map((m) => m[1]).filter((s) => !s.startsWith('node:') && !s.startsWith('file:'))
  if (left.length > 0) throw new Error(`${rel} imports ${left.join(', ')}, which its compiled copy cannot resolve: update bench/lib/floor.ts`)
  fs.mkdirSync(path.dirname(outFile), {recursive: true})
  fs.writeFileSync(outFile, js)
  return outFile
}

function grpcUrl(root: string): string {
  return pathToFileURL(createRequire(path.join(root, 'package.json')).resolve(GRPC)).href
}

/** Compiles a floor client (default bench/raw-cri.ts) into outDir; returns the .mjs to run with plain node. */
export function buildFloor(root: string, outDir: string, rel = 'bench/raw-cri.ts'): string {
  const bindings = path.join(root, 'dist/gen/runtime/v1/api.js')
  if (!fs.existsSync(bindings)) throw new Error('dist/ has no CRI bindings: run `npm run build` first')
  return compile(root, rel, path.join(outDir, `${path.basename(rel, '.ts')}.mjs`), {[SRC_BINDINGS]: pathToFileURL(bindings).href, [GRPC]: grpcUrl(root)})
}

/** Compiles bench/lib/cri-trace.ts into outDir; returns the .mjs to pass to `node --import`. */
export function buildTracePreload(root: string, outDir: string): string {
  return compile(root, 'bench/lib/cri-trace.ts', path.join(outDir, 'cri-trace.mjs'), {[GRPC]: grpcUrl(root)})
}
