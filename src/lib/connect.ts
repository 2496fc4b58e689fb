// Commands reach the runtime through here. The CRI client (and with it gRPC) is loaded lazily, so
// commands that don't talk to the runtime, `--help` and `--version` start fast.
import type {CriClient, ConnectOptions} from '../cri/client.js'

export async function connect(opts: ConnectOptions): Promise<CriClient> {
  const {connectCri} = await import('../cri/client.js')
  return connectCri(opts)
}
