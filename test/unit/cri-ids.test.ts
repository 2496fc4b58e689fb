// The partial reader of cheap lists (over @bufbuild/protobuf's reader), against the generated encoder.
import assert from 'node:assert/strict'
import {describe, it} from 'node:test'
import {decodeContainerIds, decodeSandboxIds} from '../../src/cri/ids.js'
import {ContainerState, ListContainersResponse, ListPodSandboxResponse, PodSandboxState} from '../../src/gen/runtime/v1/api.js'

const SRC = 'podrun.io/source'

describe('ids and states reader', () => {
  it('reads ids, states and one label of sandboxes, skipping everything else', () => {
    const bytes = Buffer.from(
      ListPodSandboxResponse.encode(
        ListPodSandboxResponse.fromPartial({
          items: [
            {id: 'a'.repeat(64), state: PodSandboxState.SANDBOX_NOTREADY, createdAt: 1_800_000_000_000_000_000n, metadata: {name: 'web', namespace: 'default', uid: 'u', attempt: 3}, labels: {x: 'y', [SRC]: '/etc/podrun/manifests/web.yaml'}, annotations: {'podrun.io/pod': '{"big":"' + 'x'.repeat(5000) + '"}'}},
            {id: 'b'.repeat(64), state: PodSandboxState.SANDBOX_READY, labels: {}},
          ],
        }),
      ).finish(),
    )
    assert.deepEqual(decodeSandboxIds(bytes, SRC), [
      {id: 'a'.repeat(64), sandboxId: '', state: PodSandboxState.SANDBOX_NOTREADY, label: '/etc/podrun/manifests/web.yaml'},
      {id: 'b'.repeat(64), sandboxId: '', state: PodSandboxState.SANDBOX_READY, label: ''},
    ])
  })

  it('reads ids, sandbox, state and one label of containers', () => {
    const bytes = Buffer.from(
      ListContainersResponse.encode(
        ListContainersResponse.fromPartial({
          containers: [
            {id: 'c1', podSandboxId: 's1', state: ContainerState.CONTAINER_EXITED, image: {image: 'busybox', annotations: {a: 'b'}}, labels: {[SRC]: 'apply', 'io.kubernetes.pod.name': 'web'}, annotations: {k: 'v'}, createdAt: 5n},
          ],
        }),
      ).finish(),
    )
    assert.deepEqual(decodeContainerIds(bytes, SRC), [{id: 'c1', sandboxId: 's1', state: ContainerState.CONTAINER_EXITED, label: 'apply'}])
    assert.deepEqual(decodeContainerIds(bytes), [{id: 'c1', sandboxId: 's1', state: ContainerState.CONTAINER_EXITED, label: ''}])
    assert.deepEqual(decodeContainerIds(Buffer.alloc(0)), [])
  })

  it('refuses truncated input rather than misreading it', () => {
    const bytes = Buffer.from(ListContainersResponse.encode(ListContainersResponse.fromPartial({containers: [{id: 'c1'}]})).finish())
    assert.throws(() => decodeContainerIds(bytes.subarray(0, bytes.length - 1)))
  })
})
