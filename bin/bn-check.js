#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/ (built by `npm install` through the `prepare` script).
import { main } from "../dist/cli/main.js";

await main(process.argv.slice(2));
