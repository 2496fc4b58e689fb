// Watching the manifest folder: any change only asks for the folder to be read again (the event
// carries nothing; the reload reads everything). A short debounce turns an editor's save (swap
// file, backup, rename over the original, several writes) or a config-management tool's `..data`
// symlink swap into one reload. Events on dotfiles, swap and backup files are ignored, except
// `..data`; symlinks are followed, so a swapped `..data` shows as changes of the files behind it.
import {promises as fs} from 'node:fs'
import path from 'node:path'
import type {FSWatcher} from 'chokidar'
import type {Logger} from './log.js'

/** Names whose changes never matter: editor swap/backup files, dotfiles (but `..data`). */
export function ignoredName(name: string): boolean {
  if (name === '..data') return false
  if (name.startsWith('.')) return true // .web.yaml.swp, .#web.yaml, ..2024_01_01..., .tmp files
  if (name.endsWith('~') || (name.startsWith('#') && name.endsWith('#'))) return true
  if (/\.(swp|swo|swx|swn|bak|tmp|orig|rej|dpkg-(new|old|dist)|rpmnew|rpmsave)$/i.test(name)) return true
  return name === '4913' // vim's write test file
}

export interface WatchOptions {
  recursive: boolean
  debounceMs: number
  /** Fire at the latest this long after the first event of a burst (a file written continuously). */
  maxWaitMs?: number
  onChange: (why: string) => void
  log: Logger
}

export class DirWatcher {
  private watcher: FSWatcher | undefined
  private timer: NodeJS.Timeout | undefined
  private burstStart = 0
  private first = ''
  private closed = false
  /** Identity of the folder being watched ("missing" when it was not there). */
  private identity = ''

  constructor(
    readonly dir: string,
    private readonly o: WatchOptions,
  ) {}

  private async currentIdentity(): Promise<string> {
    try {
      const st = await fs.stat(this.dir)
      return st.isDirectory() ? `${st.dev}:${st.ino}` : 'not-a-directory'
    } catch {
      return 'missing'
    }
  }

  /**
   * chokidar keeps watching a folder's old inode when the folder is replaced, and does not watch
   * the contents of a folder created after it started: start over when the folder is another one.
   * Returns whether it did.
   */
  async rearmIfNeeded(): Promise<boolean> {
    if (this.closed || (await this.currentIdentity()) === this.identity) return false
    const old = this.watcher
    this.watcher = undefined
    await old?.close()
    await this.start()
    return true
  }

  async start(): Promise<void> {
    const {watch} = await import('chokidar')
    const dir = this.dir
    this.identity = await this.currentIdentity()
    const w = watch(dir, {
      ignoreInitial: true,
      followSymlinks: true,
      depth: this.o.recursive ? 32 : 0,
      // Debounced here; chokidar's own atomic-write handling would delay unlink events further.
      atomic: false,
      ignored: (p: string) => p !== dir && ignoredName(path.basename(p)),
      ignorePermissionErrors: true,
    })
    w.on('all', (event, p) => this.fire(`${event} ${path.relative(dir, p) || '.'}`))
    w.on('error', (e) => this.o.log.warn('watching the manifest folder failed; the periodic resync still reads it', {dir, error: (e as Error).message}))
    await new Promise<void>((resolve) => w.once('ready', () => resolve()))
    if (this.closed) {
      await w.close()
      return
    }
    this.watcher = w
  }

  private fire(why: string): void {
    if (this.closed) return
    const now = Date.now()
    if (!this.timer) {
      this.burstStart = now
      this.first = why
    }
    clearTimeout(this.timer)
    const maxWait = this.o.maxWaitMs ?? 1000
    const delay = Math.max(0, Math.min(this.o.debounceMs, this.burstStart + maxWait - now))
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.o.onChange(this.first)
    }, delay)
  }

  async close(): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    await this.watcher?.close()
  }
}
