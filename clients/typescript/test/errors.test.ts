/**
 * Every error code the API gives is typed (the union is the document's ErrorCode enum), and arrives as one
 * class with status, code, details (typed per code) and request id.
 */
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { AuthError, createAuthClient, type ErrorCode, isAuthError } from "../src/index.js";
import { BASE_URL, error } from "./fakes.js";

/**
 * Each code with a status it comes with. A Record over the union, so it is exhaustive: a code the document
 * adds, or one it drops, does not compile until this table follows.
 */
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
  const error: AuthError = new AuthError({ status: 401, code: "SESSION_ENDED", message: "ended" });
  const signInAgain = error.code === "SESSION_ENDED" || error.code === "REFRESH_TOKEN_REUSED";
  assert.equal(signInAgain, true);
  assert.equal(error.details, null);
  assert.equal(error.requestId, null);
});

test("details are typed by the code: the wait, the failing fields, what to accept, read without a cast", async () => {
  const answers = [
    error(429, "RATE_LIMITED", { retry_after_seconds: 7 }),
    error(422, "VALIDATION_ERROR", {
      fields: [{ field: "email", message: "not an email", type: "email_invalid" }],
      fields_total: 1,
    }),
    error(503, "SERVICE_UNAVAILABLE", { retry_after_seconds: 2 }),
    error(403, "CONSENT_REQUIRED", {
      owed: [{ kind: "terms_of_service", version: "2026-01" }],
      accept_with: "POST /api/v1/users/me/consents",
    }),
    error(403, "MFA_STEP_UP_REQUIRED", {
      reauthenticate_with: "POST /api/v1/auth/reauthenticate",
      code_required: true,
    }),
    error(401, "INVALID_CREDENTIALS"),
  ];
  const client = createAuthClient({
    baseUrl: BASE_URL,
    transport: "memory",
    fetch: () => Promise.resolve(answers.shift() ?? error(500, "INTERNAL_ERROR")),
  });
  const explain = async (): Promise<string> => {
    try {
      await client.requestPasswordReset("ada@example.org");
      return "no error";
    } catch (caught) {
      if (!isAuthError(caught)) throw caught;
      switch (caught.code) {
        case "RATE_LIMITED":
        case "SERVICE_UNAVAILABLE":
          return `wait ${caught.details?.retry_after_seconds} s`;
        case "VALIDATION_ERROR":
          return (caught.details?.fields ?? []).map((problem) => `${problem.field}: ${problem.type}`).join(", ");
        case "CONSENT_REQUIRED":
          return `accept ${caught.details?.owed.map((owed) => `${owed.kind} ${owed.version}`).join(", ")}`;
        case "MFA_STEP_UP_REQUIRED":
        case "REAUTHENTICATION_REQUIRED":
          return `${caught.details?.reauthenticate_with}${caught.details?.code_required ? " with a code" : ""}`;
        default:
          return `${caught.code}, details ${String(caught.details)}`;
      }
    }
  };
  const explained: string[] = [];
  for (let answer = 0; answer < 6; answer += 1) explained.push(await explain());
  assert.deepEqual(explained, [
    "wait 7 s",
    "email: email_invalid",
    "wait 2 s",
    "accept terms_of_service 2026-01",
    "POST /api/v1/auth/reauthenticate with a code",
    "INVALID_CREDENTIALS, details null",
  ]);
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
  // The union is the document's ErrorCode enum, which tsc spells out.
  assert.match(misspelt.output, /error TS\d+: Type '"TOKEN_EXPIRD"' is not assignable to type '"INVALID_JSON" \| /);
  assert.match(misspelt.output, /error TS2367: .*'"SESION_ENDED"'/);
  assert.equal(misspelt.output.match(/error TS/g)?.length, 2, misspelt.output);
});
