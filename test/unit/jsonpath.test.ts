// kubectl's -o jsonpath and -o custom-columns, on Pod-shaped data.
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {customColumns, jsonpath} from '../../src/lib/jsonpath.js'

const list = {
  kind: 'List',
  items: [
    {metadata: {name: 'web', labels: {app: 'web'}}, status: {phase: 'Running', podIP: '10.0.0.1', containerStatuses: [{name: 'main', restartCount: 2}, {name: 'side', restartCount: 0}]}},
    {metadata: {name: 'db', labels: {app: 'db'}}, status: {phase: 'Pending', containerStatuses: [{name: 'main', restartCount: 0}]}},
  ],
}

test('jsonpath as people write it for kubectl', () => {
  assert.equal(jsonpath('{.items[*].metadata.name}', list), 'web db')
  assert.equal(jsonpath("'{.items[0].status.podIP}'", list), '10.0.0.1')
  assert.equal(jsonpath('{range .items[*]}{.metadata.name}{"\\t"}{.status.phase}{"\\n"}{end}', list), 'web\tRunning\ndb\tPending\n')
  assert.equal(jsonpath('{.items[?(@.status.phase=="Pending")].metadata.name}', list), 'db')
  assert.equal(jsonpath('{.items[?(@.metadata.labels.app!="db")].metadata.name}', list), 'web')
  assert.equal(jsonpath('{..restartCount}', list), '2 0 0')
  assert.equal(jsonpath('{.items[-1:].metadata.name}', list), 'db')
  assert.equal(jsonpath('{.items[0].metadata.labels}', list), '{"app":"web"}')
  assert.equal(jsonpath('.items[1].metadata.name', list), 'db')
  assert.throws(() => jsonpath('{.items[', list), /invalid jsonpath/)
  assert.throws(() => jsonpath('{range .items[*]}{.x}', list), /\{range\} without \{end\}/)
})

test('custom-columns: a header per column, <none> where a field is absent, lists joined with commas', () => {
  const {headers, rows} = customColumns('NAME:.metadata.name,IP:.status.podIP,RESTARTS:.status.containerStatuses[*].restartCount', list.items)
  assert.deepEqual(headers, ['NAME', 'IP', 'RESTARTS'])
  assert.deepEqual(rows, [['web', '10.0.0.1', '2,0'], ['db', '<none>', '0']])
  assert.throws(() => customColumns('NAME', list.items), /expected HEADER:\.field\.path/)
})
