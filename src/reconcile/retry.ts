// Transient runtime errors (UNAVAILABLE, DEADLINE_EXCEEDED) are retried with a short exponential
// back-off; anything else is the pod's error for this pass, and the next pass retries it.
import {isTransient} from '../cri/errors.js'

export interface RetryOptions {
  attempts?: number
  firstDelayMs?: number
}

export async function withRetry<T>(fn: () => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const attempts = opts.attempts ?? 4
  let delay = opts.firstDelayMs ?? 200
  for (let i = 1; ; i++) {
    try {
      return await fn()
    } catch (e) {
      if (i >= attempts || !isTransient(e)) throw e
      await new Promise((r) => setTimeout(r, delay))
      delay *= 2
    }
  }
}
