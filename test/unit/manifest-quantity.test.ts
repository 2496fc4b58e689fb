// Quantities: what parses, how they compare, and the canonical text (as the API server writes it).
import {test} from 'node:test'
import assert from 'node:assert/strict'
import {canonicalQuantity, compareQuantities, parseQuantity, type Quantity} from '../../src/manifest/quantity.js'

const q = (v: string | number): Quantity => {
  const r = parseQuantity(v)
  if (typeof r === 'string') throw new Error(r)
  return r
}

test('canonical forms', () => {
  const cases: Array<[string | number, string]> = [
    ['1.5', '1500m'],
    ['1.5Gi', '1536Mi'],
    ['1000m', '1'],
    ['1024Mi', '1Gi'],
    ['100Mi', '100Mi'],
    ['512', '512'],
    ['0.5', '500m'],
    ['2000', '2k'],
    ['1500', '1500'],
    ['1e3', '1e3'],
    ['1.5e3', '1500'],
    ['0.1m', '100u'],
    ['1m', '1m'],
    ['0', '0'],
    ['+5', '5'],
    ['-1.5', '-1500m'],
    ['1.0000000001', '1000000001n'],
    ['1E', '1E'],
    [1, '1'],
    [0.25, '250m'],
    [1e9, '1G'],
    [1e21, '1e21'],
  ]
  for (const [input, canonical] of cases) assert.equal(canonicalQuantity(q(input)), canonical, String(input))
})

test('not quantities, with what to write instead', () => {
  assert.match(parseQuantity('12Gb') as string, /not a valid quantity.*bytes are written without "B"/)
  assert.match(parseQuantity('1.2.3') as string, /not a valid quantity/)
  assert.match(parseQuantity('') as string, /not a valid quantity/)
  assert.match(parseQuantity('1 Gi') as string, /not a valid quantity/)
  assert.match(parseQuantity('1Ki0') as string, /unknown suffix "Ki0"/)
  assert.match(parseQuantity('1x') as string, /not a valid quantity/)
  assert.match(parseQuantity('1e') as string, /unknown suffix "e"/)
  assert.match(parseQuantity(' 1') as string, /leading or trailing spaces/)
})

test('comparison is exact across units', () => {
  assert.equal(compareQuantities(q('1Gi'), q('1000Mi')), 1)
  assert.equal(compareQuantities(q('1'), q('1000m')), 0)
  assert.equal(compareQuantities(q('0.5'), q(1)), -1)
  assert.equal(compareQuantities(q('1G'), q('1Gi')), -1)
  assert.equal(compareQuantities(q('1e3'), q('1k')), 0)
})
