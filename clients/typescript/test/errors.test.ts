/** Every error code the API gives is typed, and arrives as one class with status, code, details and request id. */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { AuthError, createAuthClient, type ErrorCode, isAuthError } from "../src/index.js";
import { BASE_URL, error } from "./fakes.js";

/** Each code with a status it comes with. A Record over the union: a code missing here, or one not in it, does not compile. */
const STATUS_OF: Record<ErrorCode, number> = {
  INVALID_JSON: 400,
  VALIDATION_ERROR: 422,
  INVALID_TOKEN: 400,
  AUTHENTICATION_REQUIRED: 401,
  INVALID_CREDENTIALS: 401,
  INVALID_REFRESH_TOKEN: 401,
  TOKEN_EXPIRED: 401,
  SESSION_ENDED: 401,
  REFRESH_TOKEN_REUSED: 401,
  CSRF_CHECK_FAILED: 403,
  EMAIL_NOT_VERIFIED: 403,
  ACCOUNT_DEACTIVATED: 403,
  ACCOUNT_ERASED: 403,
  PASSWORD_CHANGE_REQUIRED: 403,
  MFA_ENROLLMENT_REQUIRED: 403,
  MFA_STEP_UP_REQUIRED: 403,
  REAUTHENTICATION_REQUIRED: 403,
  CONSENT_REQUIRED: 403,
  MFA_ALREADY_ENABLED: 409,
  MFA_NOT_ENABLED: 409,
  MFA_NOT_ENROLLING: 409,
  INVALID_MFA_CODE: 401,
  MFA_CODE_ALREADY_USED: 401,
  INVALID_MFA_TOKEN: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  EVENT_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  DUPLICATE_EMAIL: 409,
  CONFLICT: 409,
  ROLE_CONFLICT: 409,
  INVITATION_NOT_PENDING: 409,
  LAST_SUPER_ADMIN: 409,
  ROLE_NOT_EVENT_SCOPED: 409,
  EVENT_IN_OTHER_NPO: 409,
  DOCUMENT_VERSION_CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RATE_LIMITED: 429,
  INTERNAL_ERROR: 500,
  SERVICE_UNAVAILABLE: 503,
};

test("every error code arrives as an AuthError carrying that code, its status, details and request id", async () => {
  for (const [code, status] of Object.entries(STATUS_OF) as [ErrorCode, number][]) {
    const details =
      status === 422
        ? { fields: [{ field: "email", message: "not an email", type: "email_invalid" }] }
        : { retry_after_seconds: 3 };
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: () => Promise.resolve(error(status, code, details)),
    });
    const thrown = await client.requestPasswordReset("ada@example.org").then(
      () => assert.fail(`${code}: no error thrown`),
      (caught: unknown) => caught,
    );
    assert.ok(isAuthError(thrown) && thrown instanceof AuthError && thrown instanceof Error, code);
    assert.deepEqual(
      [thrown.status, thrown.code, thrown.details, thrown.requestId, thrown.message],
      [status, code, details, `req-${code}`, `${code} (fake)`],
    );
  }
});

test("the narrowing a caller writes compiles", () => {
  const error = new AuthError({ status: 401, code: "SESSION_ENDED", message: "ended" });
  const signInAgain = error.code === "SESSION_ENDED" || error.code === "REFRESH_TOKEN_REUSED";
  assert.equal(signInAgain, true);
  assert.equal(error.details, null);
  assert.equal(error.requestId, null);
});

const run = promisify(execFile);
const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

/** tsc on one fixture, with the package's strictness, on its own (the fixtures are outside tsconfig.json). */
async function compile(fixture: string): Promise<{ ok: boolean; output: string }> {
  const tsc = join(packageDir, "node_modules/typescript/bin/tsc");
  const flags = [
    "--noEmit",
    "--strict",
    "--skipLibCheck",
    "--target",
    "ES2022",
    "--module",
    "NodeNext",
    "--moduleResolution",
    "NodeNext",
    "--lib",
    "ES2022,DOM",
  ];
  try {
    await run(process.execPath, [tsc, ...flags, join(packageDir, "test/fixtures", fixture)], {
      cwd: packageDir,
      encoding: "utf8",
    });
    return { ok: true, output: "" };
  } catch (failure) {
    return { ok: false, output: String((failure as { stdout?: string }).stdout) };
  }
}

test("a misspelt error code does not compile (and the same file spelt right does)", { timeout: 120_000 }, async () => {
  const [right, misspelt] = await Promise.all([
    compile("error-code-spelt-right.ts"),
    compile("error-code-misspelt.ts"),
  ]);
  assert.ok(right.ok, right.output);
  assert.equal(misspelt.ok, false, "tsc accepted a misspelt error code");
  assert.match(misspelt.output, /error TS\d+: Type '"TOKEN_EXPIRD"' is not assignable to type 'ErrorCode'/);
  assert.match(misspelt.output, /error TS2367: .*'"SESION_ENDED"'/);
  assert.equal(misspelt.output.match(/error TS/g)?.length, 2, misspelt.output);
});
