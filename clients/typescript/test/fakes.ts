/**
 * Stand-ins for what a browser and the API give the client, so the units run without either:
 * a fake API behind a fake `fetch` (with one cookie jar, as a browser has one per site; its answers
 * typed by the API's generated types, so they keep the shapes the API documents), a clock
 * moved by hand, and Web Locks and BroadcastChannel shared by the "tabs" (client instances) of a test.
 */
import type {
  ErrorCode,
  MessageResponse,
  MfaChallenge,
  RegisterResponse,
  TokenResponse,
  User,
  VerifyEmailResponse,
} from "../src/contract.js";
import {
  type AuthClientOptions,
  type ChannelConstructor,
  type ChannelLike,
  createAuthClient,
  type LockManagerLike,
  type SessionEndedEvent,
  type Transport,
} from "../src/index.js";

export const BASE_URL = "https://api.example.org";
export const PASSWORD = "Gala-night-2026";
export const TOTP = "492039";
export const RECOVERY = "7KQM-2XVA-RT9P-HC4W";
const ACCESS_SECONDS = 900;

export class Clock {
  value = Date.UTC(2030, 0, 1);
  now = (): number => this.value;
  advance(seconds: number): void {
    this.value += seconds * 1000;
  }
}

/** What the client sent, as the server saw it. */
export interface Seen {
  method: string;
  path: string;
  headers: Headers;
  credentials: RequestCredentials;
  body: Record<string, unknown> | null;
}

interface Session {
  id: number;
  refreshToken: string;
  alive: boolean;
}

type Handler = (request: Seen) => Response | Promise<Response> | undefined;

/** The API as far as the client uses it: accounts, sessions, tokens, the refresh cookie. */
export class FakeApi {
  readonly seen: Seen[] = [];
  /** The browser's cookie jar for the API's site (the refresh cookie, when the cookie transport set it). */
  cookie: string | null = null;
  /** Answers to use once, before the fake's own logic: `answerOnce("GET /api/v1/users/me", ...)`. */
  private readonly once = new Map<string, Handler[]>();
  private readonly sessions = new Map<number, Session>();
  private readonly accessTokens = new Map<string, { session: number; expiresAt: number }>();
  private counter = 0;
  /** Whether the account has a second factor (sign-in answers the challenge). */
  mfa = false;
  /** What the token responses say the user must do first. */
  steps: Pick<TokenResponse, "password_change_required" | "mfa_enrollment_required" | "consent_required"> = {
    password_change_required: false,
    mfa_enrollment_required: false,
    consent_required: false,
  };

  constructor(private readonly clock: Clock) {}

  fetch = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    const request = new Request(input, init);
    const url = new URL(request.url);
    const text = await request.text();
    const seen: Seen = {
      method: request.method,
      path: url.pathname,
      headers: request.headers,
      credentials: request.credentials,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : null,
    };
    this.seen.push(seen);
    const handlers = this.once.get(`${seen.method} ${seen.path}`);
    const scripted = await handlers?.shift()?.(seen);
    if (scripted) return scripted;
    return this.route(seen);
  };

  answerOnce(route: string, handler: Handler): void {
    this.once.set(route, [...(this.once.get(route) ?? []), handler]);
  }

  calls(route: string): Seen[] {
    return this.seen.filter((seen) => `${seen.method} ${seen.path}` === route);
  }

  get refreshes(): number {
    return this.calls("POST /api/v1/auth/refresh").length;
  }

  /** End every session server-side (a password reset, a deactivation). */
  endAllSessions(): void {
    for (const session of this.sessions.values()) session.alive = false;
  }

  private route(seen: Seen): Response {
    switch (`${seen.method} ${seen.path}`) {
      case "POST /api/v1/auth/login":
        return this.login(seen);
      case "POST /api/v1/auth/mfa/verify":
        return this.verifyMfa(seen);
      case "POST /api/v1/auth/refresh":
        return this.refresh(seen);
      case "POST /api/v1/auth/logout":
        return this.logout(seen);
      case "GET /api/v1/users/me":
        return this.me(seen);
      case "POST /api/v1/auth/register":
        return json(201, { user: user(), message: "Check your email." } satisfies RegisterResponse);
      case "POST /api/v1/auth/verify-email":
        return json(200, { user: user(), message: "Verified." } satisfies VerifyEmailResponse);
      case "POST /api/v1/auth/password/reset/request":
        return json(202, { message: "If the address is known, an email is on its way." } satisfies MessageResponse);
      case "POST /api/v1/auth/password/reset/confirm":
        return json(200, { message: "Password changed." } satisfies MessageResponse);
      case "POST /api/v1/invitations/accept":
        return this.acceptInvitation(seen);
      default:
        return error(404, "NOT_FOUND");
    }
  }

  private login(seen: Seen): Response {
    if (seen.body?.password !== PASSWORD) return error(401, "INVALID_CREDENTIALS");
    if (this.mfa) {
      const challenge: MfaChallenge = {
        status: "mfa_required",
        mfa_required: true,
        mfa_token: "mfa-token-0123456789",
        expires_in: 300,
        methods: ["totp", "recovery_code"],
      };
      return json(200, challenge);
    }
    return this.signIn(seen);
  }

  private verifyMfa(seen: Seen): Response {
    if (seen.body?.code !== TOTP && seen.body?.recovery_code !== RECOVERY) return error(401, "INVALID_MFA_CODE");
    return this.signIn(seen);
  }

  private acceptInvitation(seen: Seen): Response {
    if (seen.headers.get("Authorization")) return json(200, user({ role: "staff" }));
    return this.signIn(seen, 201);
  }

  /** A new session, its refresh token where `refresh_token_transport` asked for it. */
  private signIn(seen: Seen, status = 200): Response {
    return this.tokens(this.newSession(), seen.body?.refresh_token_transport === "cookie", seen, status);
  }

  private refresh(seen: Seen): Response {
    const byCookie = seen.body?.refresh_token === undefined;
    if (byCookie && seen.headers.get("X-Requested-With") !== "fetch") return error(403, "CSRF_CHECK_FAILED");
    const presented = byCookie ? (seen.credentials === "include" ? this.cookie : null) : seen.body?.refresh_token;
    const session = [...this.sessions.values()].find((candidate) => candidate.refreshToken === presented);
    if (!session) return error(401, "INVALID_REFRESH_TOKEN");
    if (!session.alive) return error(401, "SESSION_ENDED");
    session.refreshToken = this.token("refresh");
    return this.tokens(session, byCookie, seen);
  }

  private logout(seen: Seen): Response {
    const named =
      this.sessionOfBearer(seen) ??
      [...this.sessions.values()].find(
        (session) =>
          session.refreshToken === seen.body?.refresh_token ||
          (seen.credentials === "include" && session.refreshToken === this.cookie),
      );
    if (seen.credentials === "include") this.cookie = null;
    if (!named) return error(401, "AUTHENTICATION_REQUIRED");
    named.alive = false;
    return new Response(null, { status: 204 });
  }

  private me(seen: Seen): Response {
    const bearer = seen.headers.get("Authorization")?.replace(/^Bearer /, "");
    const token = bearer ? this.accessTokens.get(bearer) : undefined;
    if (!token) return error(401, bearer ? "INVALID_TOKEN" : "AUTHENTICATION_REQUIRED");
    if (token.expiresAt <= this.clock.now()) return error(401, "TOKEN_EXPIRED");
    if (!this.sessions.get(token.session)?.alive) return error(401, "SESSION_ENDED");
    return json(200, user());
  }

  private sessionOfBearer(seen: Seen): Session | undefined {
    const bearer = seen.headers.get("Authorization")?.replace(/^Bearer /, "");
    const token = bearer ? this.accessTokens.get(bearer) : undefined;
    return token ? this.sessions.get(token.session) : undefined;
  }

  private newSession(): Session {
    const session = { id: this.sessions.size + 1, refreshToken: this.token("refresh"), alive: true };
    this.sessions.set(session.id, session);
    return session;
  }

  /** The token response (sign-in, its second step, a refresh): the refresh token in the body, or in the cookie jar. */
  private tokens(session: Session, inCookie: boolean, seen: Seen, status = 200): Response {
    const answer: TokenResponse = {
      status: "authenticated",
      access_token: this.access(session),
      token_type: "bearer",
      expires_in: ACCESS_SECONDS,
      ...this.steps,
      user: user(),
    };
    if (!inCookie) return json(status, { ...answer, refresh_token: session.refreshToken });
    if (seen.credentials === "include") this.cookie = session.refreshToken;
    return json(status, answer);
  }

  private access(session: Session): string {
    const value = this.token("access");
    this.accessTokens.set(value, { session: session.id, expiresAt: this.clock.now() + ACCESS_SECONDS * 1000 });
    return value;
  }

  private token(kind: string): string {
    this.counter += 1;
    return `${kind}-${this.counter}-0123456789abcdef`;
  }
}

/**
 * One tab on the fake API, alone (no locks, no channel), on a clock moved by hand; the session
 * endings it was told of are collected in ``ended``.
 */
export function oneTab(transport: Transport, options: Partial<AuthClientOptions> = {}) {
  const clock = new Clock();
  const api = new FakeApi(clock);
  const client = createAuthClient({
    baseUrl: BASE_URL,
    transport,
    fetch: api.fetch,
    now: clock.now,
    locks: null,
    BroadcastChannel: null,
    ...options,
  });
  const ended: SessionEndedEvent[] = [];
  client.onSessionEnded((event) => ended.push(event));
  return { clock, api, client, ended };
}

export function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "Content-Type": "application/json", "X-Request-ID": `req-${status}`, ...headers },
  });
}

export function error(status: number, code: ErrorCode, details: Record<string, unknown> | null = null): Response {
  return json(status, { error: { code, message: `${code} (fake)`, details, request_id: `req-${code}` } });
}

function user(overrides: Partial<User> = {}): User {
  return {
    id: "8f0d6b8e-3a0c-4e6f-9b7a-6c5d4e3f2a1b",
    email: "ada@example.org",
    first_name: "Ada",
    last_name: "Lovelace",
    phone: null,
    organization_name: null,
    address_line1: null,
    address_line2: null,
    city: null,
    state: null,
    postal_code: null,
    country: null,
    role: "donor",
    npo_id: null,
    email_verified: true,
    is_active: true,
    mfa_enabled: false,
    mfa_enrollment_required: false,
    created_at: "2030-01-01T00:00:00Z",
    updated_at: "2030-01-01T00:00:00Z",
    last_login_at: null,
    erased_at: null,
    ...overrides,
  };
}

/** Web Locks: one holder per name at a time, the others granted in request order. */
export class FakeLocks implements LockManagerLike {
  granted = 0;
  private readonly tails = new Map<string, Promise<unknown>>();

  request<T>(name: string, callback: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(name) ?? Promise.resolve();
    const run = previous.then(() => {
      this.granted += 1;
      return callback();
    });
    this.tails.set(
      name,
      run.catch(() => undefined),
    );
    return run;
  }
}

/** BroadcastChannel: a message reaches every other open channel of the same name, asynchronously, as a copy. */
export class FakeBroadcast {
  readonly posted: unknown[] = [];
  private readonly open = new Set<FakeChannel>();

  get Channel(): ChannelConstructor {
    const hub = this;
    return class extends FakeChannel {
      constructor(name: string) {
        super(hub, name);
      }
    };
  }

  join(channel: FakeChannel): void {
    this.open.add(channel);
  }

  leave(channel: FakeChannel): void {
    this.open.delete(channel);
  }

  deliver(from: FakeChannel, message: unknown): void {
    this.posted.push(message);
    for (const channel of this.open) {
      if (channel !== from && channel.name === from.name) {
        const copy = structuredClone(message);
        queueMicrotask(() => channel.dispatch(copy));
      }
    }
  }
}

class FakeChannel implements ChannelLike {
  private readonly listeners: ((event: MessageEvent) => void)[] = [];

  constructor(
    private readonly hub: FakeBroadcast,
    readonly name: string,
  ) {
    hub.join(this);
  }

  postMessage(message: unknown): void {
    this.hub.deliver(this, message);
  }

  addEventListener(_type: "message", listener: (event: MessageEvent) => void): void {
    this.listeners.push(listener);
  }

  close(): void {
    this.hub.leave(this);
  }

  dispatch(data: unknown): void {
    const event = { data } as MessageEvent; // all a listener reads
    for (const listener of this.listeners) listener(event);
  }
}

/** Let queued messages and promise callbacks run. */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * Count every touch of localStorage and sessionStorage while `run` runs: the property itself
 * is replaced by a getter, so even reading it counts, whether or not a storage exists.
 */
export async function storageTouches(run: () => Promise<void>): Promise<string[]> {
  const touches: string[] = [];
  const saved = ["localStorage", "sessionStorage"].map(
    (name) => [name, Object.getOwnPropertyDescriptor(globalThis, name)] as const,
  );
  for (const [name] of saved) {
    Object.defineProperty(globalThis, name, {
      configurable: true,
      get() {
        touches.push(name);
        return undefined;
      },
    });
  }
  try {
    await run();
  } finally {
    for (const [name, descriptor] of saved) {
      if (descriptor) Object.defineProperty(globalThis, name, descriptor);
      else Reflect.deleteProperty(globalThis, name);
    }
  }
  return touches;
}
