#!/usr/bin/env -S node --import tsx --no-warnings
// Development entry: runs the TypeScript sources directly through tsx, no build step needed.
import {execute} from '@oclif/core'

await execute({development: true, dir: import.meta.url})
