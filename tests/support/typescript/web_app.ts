// What a web app writes against the types openapi-typescript (default options) generates from
// /openapi.json. tests/integration/test_generated_typescript.py generates ./openapi.d.ts from the
// served document and compiles this file with `tsc --strict`; a misspelt code must not compile.
import type { paths } from "./openapi";

type Body<P extends keyof paths, M extends keyof paths[P]> = paths[P][M] extends {
  requestBody?: { content: { "application/json": infer B } };
}
  ? B
  : never;
type Answer<P extends keyof paths, M extends keyof paths[P], S extends number> = paths[P][M] extends {
  responses: Record<S, { content: { "application/json": infer A } }>;
}
  ? A
  : never;

function unreachable(value: never): never {
  throw new Error(`unexpected ${JSON.stringify(value)}`);
}

// Registration with only the required fields: every profile field is optional.
export const registration: Body<"/api/v1/auth/register", "post"> = {
  email: "ada@example.org",
  password: "Gala-night-2026",
  first_name: "Ada",
  last_name: "Lovelace",
};

// A profile PATCH of one field alone (what is left out stays as it is; null clears).
export const newPhone: Body<"/api/v1/users/me", "patch"> = { phone: "+1 555 0100" };
export const clearedCity: Body<"/api/v1/users/me", "patch"> = { city: null };

type Login = "/api/v1/auth/login";

// The login's answer, narrowed on `status`.
export function afterSignIn(answer: Answer<Login, "post", 200>): string {
  if (answer.status === "mfa_required") {
    return `code for ${answer.mfa_token}, within ${answer.expires_in} s, by ${answer.methods.join(" or ")}`;
  }
  const first = answer.password_change_required
    ? "change the password"
    : answer.mfa_enrollment_required
      ? "enrol a second factor"
      : answer.consent_required
        ? "accept the terms"
        : "go on";
  // Left out with the cookie transport: optional, never null.
  const refresh: string = answer.refresh_token ?? "in the cookie";
  return `${answer.token_type} ${answer.access_token} (${refresh}) for ${answer.user.email} (${answer.user.role}): ${first}`;
}

// What a token store does with each 401 of a refresh, and the cookie's 403.
export function afterRefreshRefused(
  refused: Answer<"/api/v1/auth/refresh", "post", 401> | Answer<"/api/v1/auth/refresh", "post", 403>,
): "sign in" | "signed out elsewhere" | "send X-Requested-With" {
  switch (refused.error.code) {
    case "AUTHENTICATION_REQUIRED":
    case "INVALID_REFRESH_TOKEN":
    case "SESSION_ENDED":
      return "sign in";
    case "REFRESH_TOKEN_REUSED":
      return "signed out elsewhere";
    case "CSRF_CHECK_FAILED":
      return "send X-Requested-With";
    default:
      return unreachable(refused.error);
  }
}

// A signed-in call's 401: refresh and retry only after TOKEN_EXPIRED; the consent step's details, typed.
export function afterAdminEditRefused(
  refused: Answer<"/api/v1/users/{user_id}", "patch", 401> | Answer<"/api/v1/users/{user_id}", "patch", 403>,
): string {
  switch (refused.error.code) {
    case "TOKEN_EXPIRED":
      return "refresh, then retry";
    case "CONSENT_REQUIRED":
      return refused.error.details.owed.map((owed) => `${owed.kind} ${owed.version}`).join(", ");
    case "REAUTHENTICATION_REQUIRED":
      return `${refused.error.details.reauthenticate_with} (code: ${refused.error.details.code_required})`;
    default:
      return refused.error.message;
  }
}

// Every 401 and 403 of the login, handled: a code the document adds is a compile error here.
export function whyNotSignedIn(refused: Answer<Login, "post", 401> | Answer<Login, "post", 403>): string {
  switch (refused.error.code) {
    case "INVALID_CREDENTIALS":
      return "Wrong email or password.";
    case "EMAIL_NOT_VERIFIED":
      return "Verify your email address first.";
    case "ACCOUNT_DEACTIVATED":
      return "This account is deactivated.";
    default:
      return unreachable(refused.error);
  }
}

// A 429's details, read without a cast.
export function waitBeforeRetry(limited: Answer<Login, "post", 429>): number {
  return limited.error.details.retry_after_seconds;
}

// A 422 names each failing field and the rule it broke.
export function firstProblem(invalid: Answer<"/api/v1/auth/register", "post", 422>): string {
  const [problem] = invalid.error.details.fields;
  return problem ? `${problem.field}: ${problem.type}` : "";
}
