/** Tabs of one app with the cookie transport: one refresh between them, the end of the session in all. */
import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { type AuthClient, createAuthClient, type SessionEndedEvent } from "../src/index.js";
import { BASE_URL, Clock, error, FakeApi, FakeBroadcast, FakeLocks, PASSWORD, settle } from "./fakes.js";

interface Tab {
  client: AuthClient;
  ended: SessionEndedEvent[];
}

/** A browser: one API (one cookie jar), one clock, and the Web Locks and BroadcastChannel its tabs share. */
function browser(shared: { locks?: boolean; channel?: boolean } = {}) {
  const clock = new Clock();
  const api = new FakeApi(clock);
  const locks = shared.locks === false ? null : new FakeLocks();
  const broadcast = shared.channel === false ? null : new FakeBroadcast();
  const open = (): Tab => {
    const client = createAuthClient({
      baseUrl: BASE_URL,
      transport: "cookie",
      fetch: api.fetch,
      now: clock.now,
      locks,
      BroadcastChannel: broadcast?.Channel ?? null,
    });
    const ended: SessionEndedEvent[] = [];
    client.onSessionEnded((event) => ended.push(event));
    return { client, ended };
  };
  return { clock, api, locks, broadcast, open };
}

async function signIn(tab: Tab): Promise<void> {
  const result = await tab.client.signIn({ email: "ada@example.org", password: PASSWORD });
  assert.equal(result.status, "authenticated");
  await settle();
}

describe("tabs sharing Web Locks and a BroadcastChannel", () => {
  test("a sign-in in one tab reaches the other without a request", async () => {
    const { api, open } = browser();
    const [a, b] = [open(), open()];
    await signIn(a);
    const calls = api.seen.length;
    assert.equal(await b.client.getAccessToken(), await a.client.getAccessToken());
    assert.equal(api.seen.length, calls);
  });

  test("two tabs refreshing at once make one refresh between them, and both get its token", async () => {
    const { clock, api, locks, open } = browser();
    const [a, b] = [open(), open()];
    await signIn(a);
    clock.advance(900);
    const [fromA, fromB] = await Promise.all([a.client.getAccessToken(), b.client.getAccessToken()]);
    assert.equal(api.refreshes, 1);
    assert.ok(fromA);
    assert.equal(fromA, fromB);
    assert.equal(locks?.granted, 2, "each tab took the lock; the second found the token already fresh");
  });

  test("five tabs forcing a refresh together twenty times: one refresh per round, the session alive", async () => {
    const { api, open } = browser();
    const tabs = Array.from({ length: 5 }, open);
    await signIn(tabs[0]!);
    for (let round = 1; round <= 20; round += 1) {
      const tokens = await Promise.all(tabs.map((tab) => tab.client.refresh()));
      assert.equal(new Set(tokens).size, 1, `round ${round}: one token for all`);
      assert.equal(api.refreshes, round);
      await settle();
    }
    assert.equal((await tabs[4]!.client.fetch("/api/v1/users/me")).status, 200);
    assert.deepEqual(
      tabs.flatMap((tab) => tab.ended),
      [],
    );
  });

  test("signing out in one tab fires onSessionEnded in the other, and not in itself", async () => {
    const { api, open } = browser();
    const [a, b] = [open(), open()];
    await signIn(a);
    await b.client.getAccessToken();
    await a.client.signOut();
    await settle();
    assert.deepEqual(a.ended, []);
    assert.deepEqual(b.ended, [{ reason: "SIGNED_OUT" }]);
    const calls = api.seen.length;
    assert.equal(await b.client.getAccessToken(), null);
    assert.equal(api.seen.length, calls, "the other tab knows: no refresh is tried");
  });

  for (const code of ["SESSION_ENDED", "REFRESH_TOKEN_REUSED"] as const) {
    test(`${code} seen by one tab fires onSessionEnded in every tab`, async () => {
      const { api, open } = browser();
      const [a, b, c] = [open(), open(), open()];
      await signIn(a);
      api.answerOnce("GET /api/v1/users/me", () => error(401, code));
      await b.client.fetch("/api/v1/users/me");
      await settle();
      for (const tab of [a, b, c]) {
        assert.deepEqual(tab.ended, [{ reason: code }]);
        assert.equal(await tab.client.getAccessToken(), null);
      }
    });
  }

  test("a page load finding no cookie, answered after another tab signed in, leaves that sign-in alone", async () => {
    const { api, open } = browser({ locks: false });
    const [a, b] = [open(), open()];
    let answer = (_: Response): void => undefined;
    api.answerOnce("POST /api/v1/auth/refresh", () => new Promise<Response>((resolve) => (answer = resolve)));
    const restoring = b.client.getAccessToken(); // sent without a cookie: the answer will be a 401
    await settle();
    await signIn(a);
    answer(error(401, "INVALID_REFRESH_TOKEN"));
    const signedIn = await a.client.getAccessToken();
    assert.ok(signedIn);
    assert.equal(await restoring, signedIn, "the late refusal yields to the newer sign-in");
    await settle();
    assert.equal(await a.client.getAccessToken(), signedIn);
    assert.deepEqual([...a.ended, ...b.ended], []);
    assert.equal((await a.client.fetch("/api/v1/users/me")).status, 200);
  });

  test("a page load finding no cookie does not tell the other tabs", async () => {
    const { broadcast, open } = browser();
    const b = open();
    assert.equal(await b.client.getAccessToken(), null);
    await settle();
    assert.deepEqual(broadcast?.posted, []);
  });

  test("a closed tab hears nothing more", async () => {
    const { open } = browser();
    const [a, b] = [open(), open()];
    await signIn(a);
    b.client.close();
    await a.client.signOut();
    await settle();
    assert.deepEqual(b.ended, []);
  });
});

describe("without the browser APIs", () => {
  test("no Web Locks: each tab refreshes on its own, and the session survives", async () => {
    const { clock, api, open } = browser({ locks: false });
    const [a, b] = [open(), open()];
    await signIn(a);
    clock.advance(900);
    const [fromA, fromB] = await Promise.all([a.client.getAccessToken(), b.client.getAccessToken()]);
    assert.ok(fromA && fromB);
    assert.ok(api.refreshes >= 1 && api.refreshes <= 2);
    assert.equal((await b.client.fetch("/api/v1/users/me")).status, 200);
    assert.deepEqual([...a.ended, ...b.ended], []);
  });

  test("no BroadcastChannel: tabs still refresh once at a time, and learn of the end at their next refresh", async () => {
    const { clock, api, open } = browser({ channel: false });
    const [a, b] = [open(), open()];
    await signIn(a);
    assert.ok(await b.client.getAccessToken(), "the other tab restores the session from the cookie");
    const tokens = await Promise.all(Array.from({ length: 4 }, () => a.client.refresh()));
    assert.equal(new Set(tokens).size, 1, "one refresh for this tab's concurrent callers");
    await a.client.signOut();
    await settle();
    assert.deepEqual(b.ended, [], "nothing tells the other tab yet");
    clock.advance(900);
    assert.equal(await b.client.getAccessToken(), null);
    assert.equal(b.ended.length, 1);
    assert.ok(api.refreshes >= 2);
  });

  test("neither: a lone client works as a single tab", async () => {
    const { clock, api, open } = browser({ locks: false, channel: false });
    const a = open();
    await signIn(a);
    clock.advance(900);
    await Promise.all(Array.from({ length: 6 }, () => a.client.getAccessToken()));
    assert.equal(api.refreshes, 1);
  });
});
