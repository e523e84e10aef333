// `npm run generate [-- --out FILE]`: the API's types, from the OpenAPI document the server serves.
//
// The document comes from `python -m devtools.openapi_document` in the repository (no server,
// no database: the document depends only on the endpoint declarations), and openapi-typescript
// turns it into types with its default options, as a web app's own build would. The result is
// checked in (src/generated/openapi.d.ts); tests/integration/test_typescript_client.py fails when it is stale.
// PYTHON names the interpreter; by default the repository's .venv.
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repositoryRoot = resolve(packageDir, "../..");
const outIndex = process.argv.indexOf("--out");
const out = outIndex > 0 ? resolve(process.argv[outIndex + 1]) : join(packageDir, "src/generated/openapi.d.ts");
const python = process.env.PYTHON || join(repositoryRoot, ".venv/bin/python");

const document = execFileSync(python, ["-m", "devtools.openapi_document"], {
  cwd: repositoryRoot,
  encoding: "utf8",
  maxBuffer: 64 * 1024 * 1024,
  stdio: ["ignore", "pipe", "inherit"],
});
const scratch = mkdtempSync(join(tmpdir(), "augeo-openapi-"));
try {
  const spec = join(scratch, "openapi.json");
  writeFileSync(spec, document);
  const cli = join(packageDir, "node_modules/openapi-typescript/bin/cli.js");
  execFileSync(process.execPath, [cli, spec, "--output", out], { stdio: ["ignore", "ignore", "inherit"] });
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
console.log(`wrote ${out}`);
