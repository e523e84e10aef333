// `npm run build`: dist/ holds the ES modules and their type declarations, ready for `npm pack`.
// tsc emits src/*.ts; the generated declarations (src/generated/*.d.ts) are copied beside them,
// since tsc never copies a .d.ts and dist/contract.d.ts imports them.
import { execFileSync } from "node:child_process";
import { cpSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const dist = join(packageDir, "dist");
rmSync(dist, { recursive: true, force: true });
const tsc = join(packageDir, "node_modules/typescript/bin/tsc");
execFileSync(process.execPath, [tsc, "-p", join(packageDir, "tsconfig.build.json")], { stdio: "inherit" });
cpSync(join(packageDir, "src/generated"), join(dist, "generated"), { recursive: true });
