#!/usr/bin/env node
// Runs the compiled CLI (dist/, built by `npm ci`'s prepare step). When any source of it changed
// since that build, it is compiled again first (about a second), so a checkout never runs stale code.
import { ensureCli } from '../scripts/build.mjs';

await import(await ensureCli());
