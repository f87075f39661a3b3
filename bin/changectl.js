#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx changectl` works after `npm ci` without a build.
import { fileURLToPath } from 'node:url';
import { register } from 'tsx/esm/api';

register({ tsconfig: fileURLToPath(new URL('../tsconfig.json', import.meta.url)) });
await import(new URL('../src/cli/main.ts', import.meta.url).href);
