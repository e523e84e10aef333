// `npm test`: type-check and compile the sources and tests (strict), then run the units with `node --test`.
import { execFileSync } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const build = join(packageDir, "build");

function run(args) {
  try {
    execFileSync(process.execPath, args, { stdio: "inherit", cwd: packageDir });
  } catch {
    process.exit(1); // the tool has said what failed
  }
}

rmSync(build, { recursive: true, force: true });
run([join(packageDir, "node_modules/typescript/bin/tsc"), "-p", join(packageDir, "tsconfig.json")]);
const tests = readdirSync(join(build, "test"))
  .filter((name) => name.endsWith(".test.js"))
  .map((name) => join(build, "test", name));
run(["--test", "--test-reporter=spec", ...tests]);
