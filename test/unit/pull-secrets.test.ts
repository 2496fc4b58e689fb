// imagePullSecrets: which registry entries a pull of an image uses, as the kubelet's keyring picks them.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import type {Pod} from 'kubernetes-types/core/v1.js'
import {imageLocation, keyLocation, keyMatches, pullCredentials} from '../../src/reconcile/pull-secrets.js'

const b64 = (s: string) => Buffer.from(s).toString('base64')

function pod(...secrets: string[]): Pod {
  return {metadata: {name: 'p', namespace: 'ns'}, spec: {containers: [], imagePullSecrets: secrets.map((name) => ({name}))}}
}

const secrets: Record<string, Record<string, string>> = {
  json: {'.dockerconfigjson': JSON.stringify({auths: {'127.0.0.1:5056': {username: 'u1', password: 'p1'}, 'https://index.docker.io/v1/': {auth: b64('hub:secret:with:colons')}}})},
  cfg: {'.dockercfg': JSON.stringify({'registry.example.com/team': {username: 'team', password: 't'}, '*.example.com': {username: 'any', password: 'a'}})},
  broken: {'.dockerconfigjson': '{not json'},
}
const lookup = (_kind: string, ns: string, name: string) => (ns === 'ns' ? secrets[name] : undefined)

test('image locations: Docker Hub names, registries with ports, tags and digests dropped', () => {
  assert.deepEqual(imageLocation('busybox:1.36'), {host: 'index.docker.io', port: '', path: 'library/busybox'})
  assert.deepEqual(imageLocation('docker.io/me/app@sha256:' + 'a'.repeat(64)), {host: 'index.docker.io', port: '', path: 'me/app'})
  assert.deepEqual(imageLocation('127.0.0.1:5056/podrun/busybox:1.35'), {host: '127.0.0.1', port: '5056', path: 'podrun/busybox'})
  assert.deepEqual(imageLocation('localhost/x'), {host: 'localhost', port: '', path: 'x'})
})

test('keys: schemes and trailing slashes dropped; globs per label; ports must agree; paths are prefixes on a component boundary', () => {
  assert.deepEqual(keyLocation('https://index.docker.io/v1/'), {host: 'index.docker.io', port: '', path: ''})
  assert.ok(keyMatches(keyLocation('*.example.com'), imageLocation('registry.example.com/a')))
  assert.ok(!keyMatches(keyLocation('*.example.com'), imageLocation('a.b.example.com/a')))
  assert.ok(!keyMatches(keyLocation('127.0.0.1'), imageLocation('127.0.0.1:5056/a')))
  assert.ok(keyMatches(keyLocation('registry.example.com/team'), imageLocation('registry.example.com/team/app:1')))
  assert.ok(!keyMatches(keyLocation('registry.example.com/team'), imageLocation('registry.example.com/teams/app:1')))
})

test('credentials for an image: dockerconfigjson and dockercfg, "auth" decoded, most specific first, other registries none', () => {
  assert.deepEqual(
    pullCredentials(pod('json'), '127.0.0.1:5056/podrun/busybox:1.35', lookup).map((a) => [a.serverAddress, a.username, a.password]),
    [['127.0.0.1:5056', 'u1', 'p1']],
  )
  assert.deepEqual(
    pullCredentials(pod('json'), 'nginx', lookup).map((a) => [a.username, a.password]),
    [['hub', 'secret:with:colons']],
  )
  assert.deepEqual(
    pullCredentials(pod('cfg', 'json'), 'registry.example.com/team/app', lookup).map((a) => a.username),
    ['team', 'any'],
  )
  assert.deepEqual(pullCredentials(pod('json'), 'quay.io/x/y', lookup), [])
  assert.deepEqual(pullCredentials(pod('broken', 'missing'), '127.0.0.1:5056/a', lookup), [])
})
