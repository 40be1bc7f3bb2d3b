#!/usr/bin/env node
// The `trellis` command: runs the TypeScript sources through tsx (docs/decisions/0001).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
