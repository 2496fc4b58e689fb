// Progress on stderr: an ora spinner on a terminal, plain lines otherwise (CI logs, pipes).
import type {Ora} from 'ora'

export interface Progress {
  step(key: string, text: string): void
  line(text: string): void
  stop(): void
}

export async function startProgress(title: string, quiet = false): Promise<Progress> {
  if (quiet) return {step() {}, line() {}, stop() {}}
  if (!process.stderr.isTTY) {
    return {
      step() {},
      line: (t) => process.stderr.write(t + '\n'),
      stop() {},
    }
  }
  const {default: ora} = await import('ora')
  const spinner: Ora = ora({text: title, stream: process.stderr}).start()
  return {
    step: (key, text) => {
      spinner.text = `${key}: ${text}`
    },
    line: (t) => {
      spinner.stop()
      process.stderr.write(t + '\n')
      spinner.start()
    },
    stop: () => spinner.stop(),
  }
}
