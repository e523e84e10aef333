/** The session's tokens in one tab: refresh ahead of expiry, one refresh at a time, one retry, the end. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  type AuthClient,
  type AuthClientOptions,
  createAuthClient,
  type SessionEndedEvent,
  type Transport,
} from "../src/index.js";
import { BASE_URL, error, type FakeApi, oneTab, PASSWORD, storageTouches } from "./fakes.js";

const TRANSPORTS: Transport[] = ["memory", "cookie"];
const ME = "GET /api/v1/users/me";

async function signedIn(transport: Transport, options: Partial<AuthClientOptions> = {}) {
  const world = oneTab(transport, options);
  const result = await world.client.signIn({ email: "ada@example.org", password: PASSWORD });
  assert.equal(result.status, "authenticated");
  return world;
}

async function bearerOf(client: AuthClient): Promise<string> {
  const token = await client.getAccessToken();
  assert.ok(token, "signed in");
  return token;
}

for (const transport of TRANSPORTS) {
  describe(`${transport} transport`, () => {
    test("one refresh for ten concurrent callers, and all get its token", async () => {
      const { clock, api, client } = await signedIn(transport);
      const before = await bearerOf(client);
      clock.advance(900);
      const tokens = await Promise.all(Array.from({ length: 10 }, () => client.getAccessToken()));
      assert.equal(api.refreshes, 1);
      assert.equal(new Set(tokens).size, 1);
      assert.notEqual(tokens[0], before);
      assert.ok(tokens[0]);
    });

    test("refreshes ahead of expiry: not before the margin, once within it", async () => {
      const { clock, api, client } = await signedIn(transport);
      const first = await bearerOf(client);
      clock.advance(900 - 61); // 61 s left: outside the 60 s margin
      assert.equal(await client.getAccessToken(), first);
      assert.equal(api.refreshes, 0);
      clock.advance(2); // 59 s left: still valid, but refreshed now
      const second = await bearerOf(client);
      assert.notEqual(second, first);
      assert.equal(api.refreshes, 1);
      assert.equal(await client.getAccessToken(), second);
      assert.equal(api.refreshes, 1);
    });

    test("the margin is configurable", async () => {
      const { clock, api, client } = await signedIn(transport, { refreshMarginSeconds: 300 });
      clock.advance(599);
      await client.getAccessToken();
      assert.equal(api.refreshes, 0);
      clock.advance(2);
      await client.getAccessToken();
      assert.equal(api.refreshes, 1);
    });

    test("fetch attaches the bearer and resolves paths against baseUrl", async () => {
      const { api, client } = await signedIn(transport);
      const response = await client.fetch("/api/v1/users/me");
      assert.equal(response.status, 200);
      const [call] = api.calls(ME);
      assert.equal(call?.headers.get("Authorization"), `Bearer ${await bearerOf(client)}`);
      const user = await client.fetchJson<{ email: string }>("/api/v1/users/me");
      assert.equal(user.email, "ada@example.org");
    });

    test("retries once after TOKEN_EXPIRED, with a refreshed token", async () => {
      const { api, client } = await signedIn(transport);
      const stale = await bearerOf(client);
      api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      const response = await client.fetch("/api/v1/users/me");
      assert.equal(response.status, 200);
      const calls = api.calls(ME);
      assert.equal(calls.length, 2);
      assert.equal(api.refreshes, 1);
      assert.equal(calls[0]?.headers.get("Authorization"), `Bearer ${stale}`);
      assert.notEqual(calls[1]?.headers.get("Authorization"), `Bearer ${stale}`);
    });

    test("never loops: a second TOKEN_EXPIRED is answered to the caller", async () => {
      const { api, client } = await signedIn(transport);
      api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      const response = await client.fetch("/api/v1/users/me");
      assert.equal(response.status, 401);
      assert.equal(((await response.json()) as { error: { code: string } }).error.code, "TOKEN_EXPIRED");
      assert.equal(api.calls(ME).length, 2);
      assert.equal(api.refreshes, 1);
    });

    test("other 401s are not retried", async () => {
      const { api, client } = await signedIn(transport);
      api.answerOnce(ME, () => error(401, "INVALID_TOKEN"));
      const response = await client.fetch("/api/v1/users/me");
      assert.equal(response.status, 401);
      assert.equal(api.calls(ME).length, 1);
      assert.equal(api.refreshes, 0);
    });

    for (const code of [
      "PASSWORD_CHANGE_REQUIRED",
      "MFA_ENROLLMENT_REQUIRED",
      "MFA_STEP_UP_REQUIRED",
      "REAUTHENTICATION_REQUIRED",
      "CONSENT_REQUIRED",
    ] as const) {
      test(`403 ${code} is only a typed error: no refresh, no retry, the session kept`, async () => {
        const { api, client, ended } = await signedIn(transport);
        const token = await bearerOf(client);
        api.answerOnce(ME, () => error(403, code));
        const response = await client.fetch("/api/v1/users/me");
        assert.equal(response.status, 403);
        assert.equal(((await response.json()) as { error: { code: string } }).error.code, code);
        assert.deepEqual([api.calls(ME).length, api.refreshes, ended.length], [1, 0, 0]);
        assert.equal(await client.getAccessToken(), token);
        api.answerOnce(ME, () => error(403, code));
        await assert.rejects(client.fetchJson("/api/v1/users/me"), { name: "AuthError", status: 403, code });
        assert.deepEqual([api.calls(ME).length, api.refreshes, ended.length], [2, 0, 0]);
      });
    }

    test("fetchJson throws the answer's error as an AuthError", async () => {
      const { api, client } = await signedIn(transport);
      api.answerOnce(ME, () => error(403, "PASSWORD_CHANGE_REQUIRED"));
      await assert.rejects(client.fetchJson("/api/v1/users/me"), {
        name: "AuthError",
        status: 403,
        code: "PASSWORD_CHANGE_REQUIRED",
        requestId: "req-PASSWORD_CHANGE_REQUIRED",
      });
    });

    for (const code of ["SESSION_ENDED", "REFRESH_TOKEN_REUSED"] as const) {
      test(`${code} on a call fires onSessionEnded once and clears the tokens`, async () => {
        const { api, client, ended } = await signedIn(transport);
        api.answerOnce(ME, () => error(401, code));
        const response = await client.fetch("/api/v1/users/me");
        assert.equal(response.status, 401);
        assert.deepEqual(ended, [{ reason: code }]);
        const calls = api.seen.length;
        assert.equal(await client.getAccessToken(), null);
        assert.equal(api.seen.length, calls, "signed out: no refresh is tried");
        const anonymous = await client.fetch("/api/v1/users/me");
        assert.equal(api.calls(ME).at(-1)?.headers.get("Authorization"), null);
        assert.equal(anonymous.status, 401);
        assert.equal(ended.length, 1);
      });

      test(`${code} on a refresh fires onSessionEnded and clears the tokens`, async () => {
        const { clock, api, client, ended } = await signedIn(transport);
        clock.advance(900);
        api.answerOnce("POST /api/v1/auth/refresh", () => error(401, code));
        assert.equal(await client.getAccessToken(), null);
        assert.deepEqual(ended, [{ reason: code }]);
        assert.equal(await client.refresh(), null);
        assert.equal(api.refreshes, 1);
      });
    }

    test("a session ended on the server is noticed at the next refresh", async () => {
      const { clock, api, client, ended } = await signedIn(transport);
      api.endAllSessions();
      clock.advance(900);
      assert.equal(await client.getAccessToken(), null);
      assert.deepEqual(ended, [{ reason: "SESSION_ENDED" }]);
    });

    test("a failed refresh keeps a token that has not expired, and throws once it has", async () => {
      const { clock, api, client } = await signedIn(transport);
      const token = await bearerOf(client);
      clock.advance(900 - 30);
      api.answerOnce("POST /api/v1/auth/refresh", () => error(503, "SERVICE_UNAVAILABLE"));
      assert.equal(await client.getAccessToken(), token);
      clock.advance(60);
      api.answerOnce("POST /api/v1/auth/refresh", () => error(503, "SERVICE_UNAVAILABLE"));
      await assert.rejects(client.getAccessToken(), { name: "AuthError", status: 503, code: "SERVICE_UNAVAILABLE" });
      assert.ok(await client.getAccessToken(), "the next refresh succeeds: still signed in");
    });

    test("signOut ends the session on the server and here, without firing onSessionEnded", async () => {
      const { api, client, ended } = await signedIn(transport);
      await client.signOut();
      assert.equal(api.calls("POST /api/v1/auth/logout").length, 1);
      assert.equal(await client.getAccessToken(), null);
      assert.deepEqual(ended, []);
    });

    test("signOut forgets the tokens even when the server fails, and says so", async () => {
      const { api, client } = await signedIn(transport);
      api.answerOnce("POST /api/v1/auth/logout", () => error(503, "SERVICE_UNAVAILABLE"));
      await assert.rejects(client.signOut(), { code: "SERVICE_UNAVAILABLE" });
      assert.equal(await client.getAccessToken(), null);
    });

    test("signOut after the session already ended is quiet (401 means nothing to end)", async () => {
      const { api, client } = await signedIn(transport);
      api.answerOnce("POST /api/v1/auth/logout", () => error(401, "SESSION_ENDED"));
      await client.signOut();
    });
  });
}

describe("memory transport", () => {
  test("sends the refresh token in the body, and only to refresh and logout", async () => {
    const { clock, api, client } = await signedIn("memory");
    const login = api.calls("POST /api/v1/auth/login")[0];
    assert.equal(login?.body?.refresh_token_transport, undefined, "the default transport (body) is not named");
    clock.advance(900);
    await client.getAccessToken();
    const [refresh] = api.calls("POST /api/v1/auth/refresh");
    assert.match(String(refresh?.body?.refresh_token), /^refresh-/);
    assert.equal(refresh?.credentials, "same-origin");
    await client.signOut();
    const [logout] = api.calls("POST /api/v1/auth/logout");
    assert.match(String(logout?.body?.refresh_token), /^refresh-/);
    assert.notEqual(logout?.body?.refresh_token, refresh?.body?.refresh_token, "the rotated token, not the spent one");
    assert.ok(logout?.headers.get("Authorization")?.startsWith("Bearer "));
  });

  test("never touches localStorage or sessionStorage", async () => {
    const touches = await storageTouches(async () => {
      const { clock, api, client } = await signedIn("memory");
      clock.advance(900);
      await client.getAccessToken();
      api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      await client.fetch("/api/v1/users/me");
      await client.signOut();
    });
    assert.deepEqual(touches, []);
  });

  test("a new client (a reload) starts signed out, without asking the server", async () => {
    const { api } = await signedIn("memory");
    const reloaded = createAuthClient({ baseUrl: BASE_URL, transport: "memory", fetch: api.fetch });
    const calls = api.seen.length;
    assert.equal(await reloaded.getAccessToken(), null);
    assert.equal(api.seen.length, calls);
  });

  test("an answer without a refresh token is refused, not half-kept", async () => {
    const { api, client } = oneTab("memory");
    api.answerOnce(
      "POST /api/v1/auth/login",
      () =>
        new Response(JSON.stringify({ access_token: "a", token_type: "bearer", expires_in: 900, user: {} }), {
          status: 200,
        }),
    );
    await assert.rejects(client.signIn({ email: "ada@example.org", password: PASSWORD }), {
      code: "UNEXPECTED_RESPONSE",
    });
    assert.equal(await client.getAccessToken(), null);
  });
});

describe("cookie transport", () => {
  test("never puts a refresh token in a body or in storage", async () => {
    let api: FakeApi | undefined;
    const touches = await storageTouches(async () => {
      const world = await signedIn("cookie");
      api = world.api;
      world.clock.advance(900);
      await world.client.getAccessToken();
      world.api.answerOnce(ME, () => error(401, "TOKEN_EXPIRED"));
      await world.client.fetch("/api/v1/users/me");
      await world.client.signOut();
    });
    assert.deepEqual(touches, []);
    assert.ok(api);
    for (const seen of api.seen) assert.equal(seen.body?.refresh_token, undefined, `${seen.method} ${seen.path}`);
  });

  test("asks for the cookie at sign-in and sends it, with the CSRF header, to refresh and logout", async () => {
    const { clock, api, client } = await signedIn("cookie");
    const [login] = api.calls("POST /api/v1/auth/login");
    assert.equal(login?.body?.refresh_token_transport, "cookie");
    assert.equal(login?.credentials, "include");
    assert.ok(api.cookie, "the browser holds the refresh cookie");
    clock.advance(900);
    await client.getAccessToken();
    await client.signOut();
    for (const route of ["POST /api/v1/auth/refresh", "POST /api/v1/auth/logout"]) {
      const [call] = api.calls(route);
      assert.equal(call?.credentials, "include", route);
      assert.equal(call?.headers.get("X-Requested-With"), "fetch", route);
      assert.deepEqual(call?.body, {}, route);
    }
    assert.equal(api.cookie, null, "logout cleared the cookie");
  });

  test("a new client (a reload) is still signed in: the cookie restores the session", async () => {
    const { api } = await signedIn("cookie");
    const reloaded = createAuthClient({
      baseUrl: BASE_URL,
      transport: "cookie",
      fetch: api.fetch,
      locks: null,
      BroadcastChannel: null,
    });
    const ended: SessionEndedEvent[] = [];
    reloaded.onSessionEnded((event) => ended.push(event));
    assert.ok(await reloaded.getAccessToken());
    assert.equal((await reloaded.fetch("/api/v1/users/me")).status, 200);
    assert.deepEqual(ended, []);
  });

  test("with no cookie, the first getAccessToken answers null once and does not fire onSessionEnded", async () => {
    const { api, client, ended } = oneTab("cookie");
    assert.equal(await client.getAccessToken(), null);
    assert.equal(await client.getAccessToken(), null);
    assert.equal(api.refreshes, 1);
    assert.deepEqual(ended, []);
  });

  test("signing out without ever signing in still clears the cookie", async () => {
    const { api, client } = oneTab("cookie");
    api.cookie = "left-over-cookie";
    await client.signOut();
    assert.equal(api.calls("POST /api/v1/auth/logout").length, 1);
    assert.equal(api.cookie, null);
  });
});
