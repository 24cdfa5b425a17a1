#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm install` through the `prepare` script), as
// one bundled file for a fast start (scripts/bundle-cli.mjs).
import { main } from "../dist/cli/bn-check.mjs";

await main(process.argv.slice(2));
