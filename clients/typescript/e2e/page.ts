/**
 * The page the browser test drives (tests/integration/test_web_client_browser.py): the client, bundled by
 * esbuild, with a small harness on `window` that the test calls and whose answers it reads.
 *
 * The page's URL names the API and the transport: `/?api=http://localhost:7071&transport=cookie`.
 * Every harness call answers `{ ok: true, value }` or `{ ok: false, status, code }`, never throws.
 */
import { type AuthClient, createAuthClient, isAuthError, type MfaStep, type Transport } from "../src/index.js";

type Outcome<T> = { ok: true; value: T } | { ok: false; status: number; code: string; message: string };

const parameters = new URLSearchParams(location.search);
const client: AuthClient = createAuthClient({
  baseUrl: parameters.get("api") ?? "",
  transport: (parameters.get("transport") ?? "cookie") as Transport,
});
const ended: string[] = [];
client.onSessionEnded((event) => ended.push(event.reason));
let step: MfaStep | null = null;
let running: Promise<Outcome<unknown>> | null = null;

async function outcome<T>(work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() };
  } catch (error) {
    if (isAuthError(error)) return { ok: false, status: error.status, code: error.code, message: error.message };
    return { ok: false, status: -1, code: "THROWN", message: String(error) };
  }
}

const harness = {
  signIn: (email: string, password: string) =>
    outcome(async () => {
      const result = await client.signIn({ email, password });
      if (result.status === "mfa_required") {
        step = result;
        return { status: result.status, methods: result.methods };
      }
      return { status: result.status, email: result.user.email };
    }),
  verify: (code: string) =>
    outcome(async () => {
      if (!step) throw new Error("no second-factor step to verify");
      const result = await step.verify(code);
      return { status: result.status, email: result.user.email };
    }),
  me: () =>
    outcome(async () => {
      const response = await client.fetch("/api/v1/users/me");
      return { status: response.status, body: (await response.json()) as unknown };
    }),
  token: () => outcome(() => client.getAccessToken()),
  /** Refresh `times` times in a row, every token kept. */
  refresh: (times: number) =>
    outcome(async () => {
      const tokens: (string | null)[] = [];
      for (let round = 0; round < times; round += 1) tokens.push(await client.refresh());
      return tokens;
    }),
  /** Start refreshing without waiting, so that several tabs refresh together; `finish` waits. */
  startRefreshing: (times: number) => {
    running = harness.refresh(times);
    return outcome(() => Promise.resolve(true));
  },
  finish: () => running ?? outcome(() => Promise.reject(new Error("nothing started"))),
  signOut: () => outcome(() => client.signOut()),
  ended: () => outcome(() => Promise.resolve([...ended])),
};

declare global {
  interface Window {
    harness: typeof harness;
  }
}

window.harness = harness;
document.body.dataset["ready"] = "true";
