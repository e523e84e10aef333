/** Signing in (with the two-step second factor), the calls before a session, and what goes on the wire. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  type AcceptInvitationResult,
  createAuthClient,
  type SignInResult,
  type Transport,
} from "../src/index.js";
import { BASE_URL, json, oneTab, PASSWORD, RECOVERY, TOTP } from "./fakes.js";

/** A tab whose base URL ends in a slash, as a configuration may write it. */
function setUp(transport: Transport) {
  return oneTab(transport, { baseUrl: `${BASE_URL}/` });
}

/** The steps a signed-in result says are owed, in the order of the token response's fields. */
function owed(result: SignInResult | AcceptInvitationResult): boolean[] {
  assert.equal(result.status, "authenticated");
  if (result.status !== "authenticated") return [];
  return [result.passwordChangeRequired, result.mfaEnrollmentRequired, result.consentRequired];
}

for (const transport of ["memory", "cookie"] as const) {
  describe(`signing in (${transport})`, () => {
    test("answers authenticated with the user and the steps owed, and holds the tokens", async () => {
      const { client } = setUp(transport);
      const result = await client.signIn({ email: "ada@example.org", password: PASSWORD });
      assert.equal(result.status, "authenticated");
      if (result.status !== "authenticated") return;
      assert.equal(result.user.email, "ada@example.org");
      assert.deepEqual(owed(result), [false, false, false]);
      assert.match(String(await client.getAccessToken()), /^access-/);
    });

    test("a wrong password is an AuthError and leaves the client signed out", async () => {
      const { client } = setUp(transport);
      await assert.rejects(client.signIn({ email: "ada@example.org", password: "nope" }), {
        name: "AuthError",
        status: 401,
        code: "INVALID_CREDENTIALS",
      });
      if (transport === "memory") assert.equal(await client.getAccessToken(), null);
    });

    test("the second factor in two steps", async () => {
      const { api, client } = setUp(transport);
      api.mfa = true;
      const step = await client.signIn({ email: "ada@example.org", password: PASSWORD });
      assert.equal(step.status, "mfa_required");
      if (step.status !== "mfa_required") return;
      assert.deepEqual(step.methods, ["totp", "recovery_code"]);
      assert.equal(step.expiresIn, 300);
      if (transport === "memory") assert.equal(await client.getAccessToken(), null, "no tokens before the code");
      await assert.rejects(step.verify("000000"), { name: "AuthError", code: "INVALID_MFA_CODE" });
      const done = await step.verify(` ${TOTP} `);
      assert.equal(done.status, "authenticated");
      assert.ok(await client.getAccessToken());
      const verifies = api.calls("POST /api/v1/auth/mfa/verify");
      assert.deepEqual(verifies.at(-1)?.body, {
        mfa_token: "mfa-token-0123456789",
        code: TOTP,
        ...(transport === "cookie" ? { refresh_token_transport: "cookie" } : {}),
      });
      assert.equal(verifies.at(-1)?.credentials, transport === "cookie" ? "include" : "same-origin");
    });

    for (const [step, flag] of [
      ["password_change_required", "passwordChangeRequired"],
      ["mfa_enrollment_required", "mfaEnrollmentRequired"],
      ["consent_required", "consentRequired"],
    ] as const) {
      test(`a token response saying ${step} is told as ${flag} (sign-in, second step, invitation)`, async () => {
        const { api, client } = setUp(transport);
        api.steps = { ...api.steps, [step]: true };
        const expected = [
          step === "password_change_required",
          step === "mfa_enrollment_required",
          step === "consent_required",
        ];
        assert.deepEqual(owed(await client.signIn({ email: "ada@example.org", password: PASSWORD })), expected);
        api.mfa = true;
        const challenge = await client.signIn({ email: "ada@example.org", password: PASSWORD });
        assert.equal(challenge.status, "mfa_required");
        if (challenge.status !== "mfa_required") return;
        assert.deepEqual(owed(await challenge.verify(TOTP)), expected);
        await client.signOut();
        const invited = await client.acceptInvitation({ token: "invitation-token-0123", password: PASSWORD });
        assert.deepEqual(owed(invited), expected);
      });
    }

    test("a recovery code is sent as one", async () => {
      const { api, client } = setUp(transport);
      api.mfa = true;
      const step = await client.signIn({ email: "ada@example.org", password: PASSWORD });
      assert.equal(step.status, "mfa_required");
      if (step.status !== "mfa_required") return;
      await step.verify(RECOVERY);
      const body = api.calls("POST /api/v1/auth/mfa/verify")[0]?.body;
      assert.equal(body?.recovery_code, RECOVERY);
      assert.equal(body?.code, undefined);
    });

    test("accepting an invitation for a new address signs in", async () => {
      const { api, client } = setUp(transport);
      const result = await client.acceptInvitation({ token: "invitation-token-0123", password: PASSWORD });
      assert.equal(result.status, "authenticated");
      assert.ok(await client.getAccessToken());
      const [call] = api.calls("POST /api/v1/invitations/accept");
      assert.equal(call?.body?.refresh_token_transport, transport === "cookie" ? "cookie" : undefined);
      assert.equal(call?.headers.get("Authorization"), null);
    });

    test("accepting an invitation when signed in sends the bearer and answers the user", async () => {
      const { api, client } = setUp(transport);
      await client.signIn({ email: "ada@example.org", password: PASSWORD });
      const result = await client.acceptInvitation({ token: "invitation-token-0123" });
      assert.deepEqual([result.status, result.user.role], ["accepted", "staff"]);
      const [call] = api.calls("POST /api/v1/invitations/accept");
      assert.equal(call?.headers.get("Authorization"), `Bearer ${await client.getAccessToken()}`);
    });
  });
}

describe("calls without a session", () => {
  test("register, verifyEmail and the password reset post their bodies to their routes", async () => {
    const { api, client } = setUp("memory");
    const registered = await client.register({
      email: "ada@example.org",
      password: PASSWORD,
      first_name: "Ada",
      last_name: "Lovelace",
    });
    assert.equal(registered.user.email, "ada@example.org");
    await client.verifyEmail("verify-token-0123456789");
    await client.requestPasswordReset("ada@example.org");
    await client.confirmPasswordReset("reset-token-0123456789", "New-gala-night-2027");
    assert.deepEqual(
      api.seen.map((seen) => [seen.method, seen.path, seen.body]),
      [
        [
          "POST",
          "/api/v1/auth/register",
          { email: "ada@example.org", password: PASSWORD, first_name: "Ada", last_name: "Lovelace" },
        ],
        ["POST", "/api/v1/auth/verify-email", { token: "verify-token-0123456789" }],
        ["POST", "/api/v1/auth/password/reset/request", { email: "ada@example.org" }],
        [
          "POST",
          "/api/v1/auth/password/reset/confirm",
          { token: "reset-token-0123456789", new_password: "New-gala-night-2027" },
        ],
      ],
    );
    for (const seen of api.seen) {
      assert.equal(seen.headers.get("Content-Type"), "application/json");
      assert.equal(seen.headers.get("Authorization"), null);
    }
  });

  test("nothing answering is an AuthError NETWORK_ERROR with status 0", async () => {
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: () => Promise.reject(new TypeError("Failed to fetch")),
    });
    await assert.rejects(client.requestPasswordReset("ada@example.org"), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.deepEqual(
        [error.name, (error as { status?: number }).status, (error as { code?: string }).code],
        ["AuthError", 0, "NETWORK_ERROR"],
      );
      assert.ok(error.cause instanceof TypeError);
      return true;
    });
  });

  test("an abort stays an abort", async () => {
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: () => Promise.reject(new DOMException("aborted", "AbortError")),
    });
    await assert.rejects(client.fetch("/api/v1/users/me"), { name: "AbortError" });
  });

  test("an answer that is not the API's is UNEXPECTED_RESPONSE, with the status and request id", async () => {
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: () =>
        Promise.resolve(
          new Response("<html>Bad gateway</html>", { status: 502, headers: { "X-Request-ID": "edge-1" } }),
        ),
    });
    await assert.rejects(client.verifyEmail("verify-token-0123456789"), {
      name: "AuthError",
      status: 502,
      code: "UNEXPECTED_RESPONSE",
      requestId: "edge-1",
    });
  });

  test("a 2xx that is not JSON is UNEXPECTED_RESPONSE too", async () => {
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: () => Promise.resolve(new Response("ok", { status: 200 })),
    });
    await assert.rejects(client.verifyEmail("verify-token-0123456789"), { code: "UNEXPECTED_RESPONSE", status: 200 });
  });

  test("an absolute URL is fetched as given", async () => {
    const seen: string[] = [];
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "memory",
      fetch: (input) => {
        seen.push(new Request(input).url);
        return Promise.resolve(json(200, {}));
      },
    });
    await client.fetch("https://other.example.org/x");
    await client.fetch(new URL("/api/v1/roles", BASE_URL));
    assert.deepEqual(seen, ["https://other.example.org/x", `${BASE_URL}/api/v1/roles`]);
  });
});
