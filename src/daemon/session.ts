// The daemon's connection to the runtime: connect, keep trying with back-off while it is away,
// subscribe to its container events where it streams them, and drop the client on a transport
// failure. The runtime going away is not an error of the daemon: it is reported once, pods keep
// running, and the session comes back by itself. Everything a connection carries (the client, the
// shared listing, the relister, the image puller) is made per connection, so nothing of a dead
// one is used again.
import type {CriClient} from '../cri/client.js'
import {isTransient, isUnimplemented} from '../cri/errors.js'
import type {ContainerEventResponse} from '../gen/runtime/v1/api.js'
import type {ActualPod} from '../model/actual.js'
import type {ImagePuller} from '../reconcile/images.js'
import type {Limits} from '../reconcile/limits.js'
import {SharedListing} from '../reconcile/listing.js'
import type {Logger} from './log.js'
import type {DaemonMetrics} from './metrics.js'
import type {PullBackoff} from './pull-backoff.js'
import {Relister} from './relist.js'
import type {DaemonStatus} from './view.js'

export type RuntimeInfo = DaemonStatus['runtime']

export interface Connection {
  cri: CriClient
  listing: SharedListing
  relister: Relister
  puller: ImagePuller
}

export interface SessionDeps {
  connect: () => Promise<CriClient>
  log: Logger
  metrics: DaemonMetrics
  endpoint: string
  reconnect: {initialMs: number; maxMs: number}
  relistMs: number
  limits: Limits
  pullBackoff: PullBackoff
  /** Which pods' exits the relist watches (by their podrun.io/source). */
  keep: (source: string) => boolean
  now: () => number
  /** A new connection: everything may have changed while there was none. */
  onConnected: (c: Connection) => void
  /** Every listing the connection takes. */
  onListing: (pods: ActualPod[]) => void
  /** A container event from the runtime's stream. */
  onEvent: (e: ContainerEventResponse) => void
}

const iso = (ms: number) => new Date(ms).toISOString()

export class RuntimeSession {
  private conn: Connection | undefined
  private cancelEvents: (() => void) | undefined
  private timer: NodeJS.Timeout | undefined
  private delay: number
  private connecting = false
  private closed = false
  private unimplementedLogged = false
  info: RuntimeInfo

  constructor(private readonly d: SessionDeps) {
    this.delay = d.reconnect.initialMs
    this.info = {up: false, endpoint: d.endpoint, since: iso(d.now()), events: 'unknown'}
  }

  /** The live connection, if any. */
  get current(): Connection | undefined {
    return this.conn
  }

  /** The runtime's event stream is live: relisting for exits is not needed. */
  get streaming(): boolean {
    return this.info.events === 'streaming'
  }

  /** Connects now (the first attempt); later attempts follow on their own. */
  start(): void {
    void this.attempt()
  }

  /**
   * A call on `c` failed. A transport failure means the runtime is away: the connection is
   * dropped and attempts begin; true then. Other errors are the caller's (false).
   */
  failed(c: Connection, e: unknown): boolean {
    if (!isTransient(e)) return false
    if (c === this.conn) {
      this.drop()
      this.down(e)
    }
    return true
  }

  close(): void {
    this.closed = true
    clearTimeout(this.timer)
    this.drop()
  }

  private drop(): void {
    this.cancelEvents?.()
    this.cancelEvents = undefined
    this.conn?.cri.close()
    this.conn = undefined
  }

  private async attempt(): Promise<void> {
    if (this.connecting || this.conn || this.closed) return
    this.connecting = true
    let cri: CriClient
    try {
      cri = await this.d.connect()
    } catch (e) {
      this.down(e)
      return
    } finally {
      this.connecting = false
    }
    if (this.closed) {
      cri.close()
      return
    }
    const c: Connection = {
      cri,
      listing: new SharedListing(cri, this.d.now, this.d.onListing, Math.min(250, this.d.relistMs / 4)),
      relister: new Relister(cri, this.d.keep),
      puller: this.d.pullBackoff.puller(cri, this.d.limits.pulls),
    }
    this.conn = c
    this.delay = this.d.reconnect.initialMs
    const wasDown = this.info.error !== undefined
    this.info = {up: true, endpoint: cri.endpoint, name: cri.runtimeName, version: cri.runtimeVersion, since: iso(this.d.now()), events: 'unknown'}
    this.d.metrics.runtimeUp.set({}, 1)
    this.d.log.info(wasDown ? 'runtime available again' : 'connected to the runtime', {endpoint: cri.endpoint, runtime: `${cri.runtimeName} ${cri.runtimeVersion}`})
    this.subscribe(c)
    this.d.onConnected(c)
  }

  private subscribe(c: Connection): void {
    this.info.events = 'streaming'
    this.cancelEvents = c.cri.getContainerEvents(
      (e) => this.d.onEvent(e),
      (err) => {
        if (c !== this.conn) return
        this.cancelEvents = undefined
        this.info.events = 'relisting'
        if (err && isUnimplemented(err)) {
          if (!this.unimplementedLogged) {
            this.d.log.info(`the runtime has no container event stream (GetContainerEvents is UNIMPLEMENTED): relisting every ${this.d.relistMs}ms`)
          }
          this.unimplementedLogged = true
        } else if (!this.closed) {
          this.d.log.debug('container event stream ended; relisting', {error: err?.message})
        }
      },
    )
  }

  private down(e: unknown): void {
    const message = (e as Error).message
    if (this.info.up || this.info.error === undefined) {
      this.d.log.warn('runtime unavailable: retrying with back-off (pods keep running)', {error: message})
      this.info = {...this.info, up: false, since: iso(this.d.now()), error: message, events: 'unknown'}
    } else {
      this.info.error = message
      this.d.log.debug('runtime still unavailable', {error: message, retryInMs: this.delay})
    }
    this.d.metrics.runtimeUp.set({}, 0)
    if (this.closed) return
    const delay = this.delay
    this.delay = Math.min(this.delay * 2, this.d.reconnect.maxMs)
    clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.attempt(), delay)
  }
}
