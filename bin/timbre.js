#!/usr/bin/env node
// The package's command; the TypeScript is compiled to dist/ by `npm install`.
import '../dist/src/cli/main.js';
