#!/usr/bin/env node
// Production entry: runs the compiled commands from dist/ using the committed-at-build oclif manifest,
// so `podrun --version` loads neither gRPC nor the schema validators.
import {execute} from '@oclif/core'

await execute({dir: import.meta.url})
