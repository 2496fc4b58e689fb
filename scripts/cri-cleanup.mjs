#!/usr/bin/env node
// Removes every pod sandbox of a CRI runtime, so that CNI releases their IPs, network namespaces
// and hostPort rules before the runtime is stopped.
//
//   node scripts/cri-cleanup.mjs unix:///path/to/containerd.sock [--only ID...]
//
// --only limits the removal to the given sandbox IDs (scripts/runtime.sh up passes the pods
// that an earlier, killed run left dead); it needs the CRI client and does nothing without it.
//
// Uses the project's CRI client (dist/cri/client.js, built by `npm run build`). Without it,
// falls back to containerd's `ctr` in the k8s.io namespace: kills the tasks, deletes the
// containers and drops the pods' host-local IP reservations (no CNI DEL, so hostPort rules stay
// until scripts/runtime.sh down releases them).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const CRI_NAMESPACE = 'k8s.io';
const CNI_NETWORK = 'podrun-dev';
const HOST_LOCAL_DIR = join('/var/lib/cni/networks', CNI_NETWORK);

const log = (msg) => process.stderr.write(`cri-cleanup: ${msg}\n`);

async function viaCri(clientPath, endpoint, only) {
  const { connectCri } = await import(clientPath);
  const client = await connectCri({ endpoint });
  let removed = 0;
  const failures = [];
  try {
    for (const sandbox of await client.listPodSandbox()) {
      if (only && !only.has(sandbox.id)) continue;
      try {
        await client.stopPodSandbox(sandbox.id);
        await client.removePodSandbox(sandbox.id);
        removed++;
      } catch (err) {
        failures.push(`${sandbox.id.slice(0, 12)}: ${err?.message ?? err}`);
      }
    }
  } finally {
    client.close();
  }
  log(`removed ${removed} pod sandbox(es) through the CRI`);
  if (failures.length) throw new Error(`${failures.length} could not be removed (${failures.join('; ')})`);
}

function ctr(address, args, { check = true } = {}) {
  try {
    return execFileSync('ctr', ['--address', address, '--timeout', '60s', '-n', CRI_NAMESPACE, ...args], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (err) {
    if (check) throw new Error(`ctr ${args.join(' ')}: ${(err.stderr || err.message).trim()}`);
    return '';
  }
}

function lines(text) {
  return text.split('\n').map((l) => l.trim()).filter(Boolean);
}

function viaCtr(endpoint) {
  const address = endpoint.replace(/^unix:\/\//, '');
  const ids = lines(ctr(address, ['containers', 'ls', '-q']));
  for (const id of lines(ctr(address, ['tasks', 'ls', '-q']))) {
    ctr(address, ['tasks', 'kill', '--signal', 'SIGKILL', id], { check: false });
  }
  for (const id of ids) {
    // --force deletes a task whose kill has not landed yet.
    ctr(address, ['tasks', 'delete', '--force', id], { check: false });
    ctr(address, ['containers', 'delete', id], { check: false });
  }
  const gone = new Set(ids);
  let released = 0;
  if (existsSync(HOST_LOCAL_DIR)) {
    for (const name of readdirSync(HOST_LOCAL_DIR)) {
      if (name === 'lock' || name.startsWith('last_reserved_ip')) continue;
      const file = join(HOST_LOCAL_DIR, name);
      let owner;
      try {
        owner = readFileSync(file, 'utf8').split(/\r?\n/)[0].trim();
      } catch {
        continue;
      }
      if (gone.has(owner)) {
        rmSync(file, { force: true });
        released++;
      }
    }
  }
  log(`removed ${ids.length} container(s) with ctr, released ${released} IP reservation(s)`);
  log('note: CNI teardown was skipped (not done through the CRI): network namespaces and hostPort rules are left to the caller');
}

async function main() {
  const args = process.argv.slice(2);
  let endpoint = process.env.CONTAINER_RUNTIME_ENDPOINT;
  if (args[0] && !args[0].startsWith('--')) endpoint = args.shift();
  let only;
  if (args[0] === '--only') only = new Set(args.slice(1));
  else if (args.length) endpoint = undefined;
  if (!endpoint) {
    log('usage: node scripts/cri-cleanup.mjs unix:///path/to/containerd.sock [--only ID...]');
    process.exit(2);
  }
  if (only && only.size === 0) return;
  const clientPath = fileURLToPath(new URL('../dist/cri/client.js', import.meta.url));
  if (existsSync(clientPath)) {
    try {
      await viaCri(clientPath, endpoint, only);
      return;
    } catch (err) {
      if (only) throw err;
      log(`the CRI client failed (${err?.message ?? err}); falling back to ctr`);
    }
  } else if (only) {
    // ctr would delete them behind the CRI plugin's back: it would keep listing them.
    log(`dist/cri/client.js not built: ${only.size} dead pod sandbox(es) stay listed as NOTREADY`);
    return;
  } else {
    log('dist/cri/client.js not built: falling back to ctr');
  }
  viaCtr(endpoint);
}

main().catch((err) => {
  log(`error: ${err?.message ?? err}`);
  process.exit(1);
});
