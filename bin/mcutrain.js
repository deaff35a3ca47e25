#!/usr/bin/env node
// The installed package runs the compiled JavaScript in dist/ (built by `npm run build`, which `prepare`
// runs on `npm ci` and `npm pack`). A checkout of the repository runs its TypeScript sources through tsx
// (a devDependency) instead, so the CLI, the tests and the demo always run the code as it is now, never
// a dist/ left behind by an earlier build.
import { existsSync } from 'node:fs';

const source = new URL('../src/cli/main.ts', import.meta.url);
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(source.href);
} else {
  await import('../dist/cli/main.js');
}
