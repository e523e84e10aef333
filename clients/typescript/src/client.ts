/**
 * `createAuthClient`: sign-in (with the second factor), the session's tokens
 * and a fetch that carries them, for a browser app.
 *
 * Two transports for the refresh token:
 * - "cookie": the API keeps it in an HttpOnly cookie that script never sees;
 *   the session survives a reload and is shared by every tab, which refresh
 *   once between them (./tabs.ts).
 * - "memory": the refresh token lives in this tab's memory only (never in
 *   storage); a reload or a new tab starts signed out.
 *
 * The access token is always in memory only, and is refreshed shortly before
 * it expires, one refresh at a time.
 */
import type {
  AcceptInvitationRequest,
  AcceptInvitationResponse,
  ErrorCode,
  LoginRequest,
  LoginResponse,
  LogoutRequest,
  MessageResponse,
  MfaChallenge,
  MfaMethod,
  MfaVerifyRequest,
  MfaVerifyResponse,
  RefreshRefusedCode,
  RefreshRequest,
  RefreshResponse,
  RegisterRequest,
  RegisterResponse,
  TokenResponse,
  User,
  VerifyEmailResponse,
} from "./contract.js";
import { AuthError, type AuthErrorCode, errorCodeOf } from "./errors.js";
import {
  aloneInThisTab,
  browserChannel,
  browserLocks,
  type ChannelConstructor,
  coordinateTabs,
  type LockManagerLike,
  type SessionEndedReason,
  type TabCoordination,
  type TabMessage,
} from "./tabs.js";

export type Transport = "cookie" | "memory";

export interface AuthClientOptions {
  /** Where the API answers, e.g. "https://api.example.org" (no trailing path). */
  baseUrl: string;
  /** "cookie" for browser apps on the API's site; "memory" where cookies cannot work. */
  transport: Transport;
  /** Refresh this many seconds before the access token expires (default 60). */
  refreshMarginSeconds?: number;
  /** The fetch to call (default: the global one). */
  fetch?: typeof fetch;
  /** The clock, in milliseconds (default: Date.now). */
  now?: () => number;
  /** Web Locks (default: navigator.locks when present; null: none). */
  locks?: LockManagerLike | null;
  /** BroadcastChannel (default: the global one when present; null: none). */
  BroadcastChannel?: ChannelConstructor | null;
}

/**
 * Signed in: the tokens are held by the client; the user, and what the user must do before the
 * rest of the API answers (until then other calls answer 403 with the step's code), are here.
 */
export interface Authenticated {
  status: "authenticated";
  user: User;
  /** An administrator set the password: change it (POST /api/v1/auth/password/change); 403 PASSWORD_CHANGE_REQUIRED. */
  passwordChangeRequired: boolean;
  /** The role needs a second factor not enrolled yet (the /api/v1/auth/mfa routes); 403 MFA_ENROLLMENT_REQUIRED. */
  mfaEnrollmentRequired: boolean;
  /** A legal document's current version is owed (GET /api/v1/users/me/consents names it); 403 CONSENT_REQUIRED. */
  consentRequired: boolean;
}

/** The password was right and the account has a second factor: send a code with `verify`. */
export interface MfaStep {
  status: "mfa_required";
  methods: MfaMethod[];
  /** Seconds this step stays valid (five minutes). */
  expiresIn: number;
  /** A 6-digit authenticator code, or a recovery code (told apart by their shape). May be retried after a wrong code. */
  verify(code: string): Promise<Authenticated>;
}

export type SignInResult = Authenticated | MfaStep;

/** A new account is signed in (`authenticated`); an existing one got the invitation's role (`accepted`). */
export type AcceptInvitationResult = Authenticated | { status: "accepted"; user: User };

export interface SessionEndedEvent {
  reason: SessionEndedReason;
}

export interface AuthClient {
  readonly transport: Transport;
  register(body: RegisterRequest): Promise<RegisterResponse>;
  verifyEmail(token: string): Promise<VerifyEmailResponse>;
  signIn(credentials: { email: string; password: string }): Promise<SignInResult>;
  requestPasswordReset(email: string): Promise<MessageResponse>;
  confirmPasswordReset(token: string, newPassword: string): Promise<MessageResponse>;
  acceptInvitation(body: Omit<AcceptInvitationRequest, "refresh_token_transport">): Promise<AcceptInvitationResult>;
  /** Ends this session on the server and here (and, with cookies, in every tab). */
  signOut(): Promise<void>;
  /** A valid access token, refreshed ahead of expiry; null when signed out. */
  getAccessToken(): Promise<string | null>;
  /** Refresh now, whatever the expiry (one refresh across tabs); null when signed out. */
  refresh(): Promise<string | null>;
  /** `fetch` with the bearer attached; after 401 TOKEN_EXPIRED, one refresh and one retry. */
  fetch(input: string | URL | Request, init?: RequestInit): Promise<Response>;
  /** `fetch`, then the JSON body as `T`; a non-2xx answer is thrown as an AuthError. */
  fetchJson<T>(input: string | URL | Request, init?: RequestInit): Promise<T>;
  /** Called (in every tab) when the session ends without this tab asking; returns the unsubscribe. */
  onSessionEnded(callback: (event: SessionEndedEvent) => void): () => void;
  /** Stop listening to the other tabs. */
  close(): void;
}

const AUTH = "/api/v1/auth";
const TOTP_CODE = /^\d{6}$/;

/** A 401 with one of these, on any call, means the session is over: sign in again. */
function endsTheSession(code: ErrorCode | null): code is "SESSION_ENDED" | "REFRESH_TOKEN_REUSED" {
  return code === "SESSION_ENDED" || code === "REFRESH_TOKEN_REUSED";
}

/**
 * Every 401 a refresh answers (the document's list: a code it adds does not compile until it is
 * placed here): no session to restore.
 */
const REFRESH_REFUSED: Record<RefreshRefusedCode, true> = {
  AUTHENTICATION_REQUIRED: true,
  INVALID_REFRESH_TOKEN: true,
  REFRESH_TOKEN_REUSED: true,
  SESSION_ENDED: true,
};

function refusesTheRefresh(code: AuthErrorCode): code is RefreshRefusedCode {
  return Object.hasOwn(REFRESH_REFUSED, code);
}

interface AccessToken {
  value: string;
  expiresAt: number;
}

export function createAuthClient(options: AuthClientOptions): AuthClient {
  return new Client(options);
}

class Client implements AuthClient {
  readonly transport: Transport;
  private readonly baseUrl: string;
  private readonly marginMs: number;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;
  private readonly tabs: TabCoordination;
  private readonly listeners = new Set<(event: SessionEndedEvent) => void>();

  private access: AccessToken | null = null;
  /** The memory transport's refresh token; never set with cookies. */
  private refreshToken: string | null = null;
  /** Cookies: unknown until the first refresh says whether the browser holds a session. */
  private state: "unknown" | "signed_in" | "signed_out";
  /** Bumped by every change of tokens, so a waiting refresh sees that another one already happened. */
  private generation = 0;
  private inflight: Promise<string | null> | null = null;
  /** Bumped when the session ends, so an answer that arrives afterwards is dropped. */
  private endings = 0;

  constructor(options: AuthClientOptions) {
    this.transport = options.transport;
    this.baseUrl = options.baseUrl.replace(/\/+$/, "");
    this.marginMs = (options.refreshMarginSeconds ?? 60) * 1000;
    this.fetchImpl = options.fetch ?? globalThis.fetch.bind(globalThis);
    this.now = options.now ?? Date.now;
    this.state = this.transport === "cookie" ? "unknown" : "signed_out";
    this.tabs =
      this.transport === "cookie"
        ? coordinateTabs(
            `augeo-auth ${this.baseUrl}`,
            options.locks === undefined ? browserLocks() : options.locks,
            options.BroadcastChannel === undefined ? browserChannel() : options.BroadcastChannel,
            (message) => this.receive(message),
          )
        : aloneInThisTab;
  }

  // -- the calls that need no session ----------------------------------------

  register(body: RegisterRequest): Promise<RegisterResponse> {
    return this.postJson(`${AUTH}/register`, body);
  }

  verifyEmail(token: string): Promise<VerifyEmailResponse> {
    return this.postJson(`${AUTH}/verify-email`, { token });
  }

  requestPasswordReset(email: string): Promise<MessageResponse> {
    return this.postJson(`${AUTH}/password/reset/request`, { email });
  }

  confirmPasswordReset(token: string, newPassword: string): Promise<MessageResponse> {
    return this.postJson(`${AUTH}/password/reset/confirm`, { token, new_password: newPassword });
  }

  // -- signing in and out ----------------------------------------------------

  async signIn(credentials: { email: string; password: string }): Promise<SignInResult> {
    const body: LoginRequest = { email: credentials.email, password: credentials.password, ...this.transportField() };
    const answer = await this.postJson<LoginResponse>(`${AUTH}/login`, body, this.cookieInit());
    return answer.status === "mfa_required" ? this.mfaStep(answer) : this.signedIn(answer);
  }

  async acceptInvitation(
    body: Omit<AcceptInvitationRequest, "refresh_token_transport">,
  ): Promise<AcceptInvitationResult> {
    const token = this.state === "signed_out" ? null : await this.getAccessToken();
    const request: AcceptInvitationRequest = { ...body, ...this.transportField() };
    const init = this.cookieInit();
    if (token) init.headers = { Authorization: `Bearer ${token}` };
    const answer = await this.postJson<AcceptInvitationResponse>("/api/v1/invitations/accept", request, init);
    return "access_token" in answer ? this.signedIn(answer) : { status: "accepted", user: answer };
  }

  async signOut(): Promise<void> {
    const access = this.unexpiredAccess();
    const refreshToken = this.refreshToken;
    const hadSession = this.transport === "cookie" || refreshToken !== null || access !== null;
    // Forget everything first: whatever the server answers, this tab keeps no token.
    this.end("SIGNED_OUT", { announce: true, notify: false });
    if (!hadSession) return;
    const body: LogoutRequest = refreshToken ? { refresh_token: refreshToken } : {};
    const init = this.sessionInit(body);
    const headers = new Headers(init.headers);
    if (access) headers.set("Authorization", `Bearer ${access}`);
    const response = await this.send(new Request(this.url(`${AUTH}/logout`), { ...init, method: "POST", headers }));
    // 401: the server already had no such session, which is what signing out wants.
    if (!response.ok && response.status !== 401) throw await AuthError.fromResponse(response);
  }

  // -- the session's tokens --------------------------------------------------

  async getAccessToken(): Promise<string | null> {
    const current = this.access;
    if (current && this.isFresh(current)) return current.value;
    if (this.state === "signed_out") return null;
    try {
      return await this.refresh();
    } catch (error) {
      // The refresh failed (offline, 503): a token that has not expired yet still works.
      const still = this.unexpiredAccess();
      if (still) return still;
      throw error;
    }
  }

  refresh(): Promise<string | null> {
    if (this.state === "signed_out") return Promise.resolve(null);
    if (!this.inflight) {
      const seen = this.generation;
      this.inflight = this.tabs
        .exclusive(() => this.refreshUnlessDone(seen))
        .finally(() => {
          this.inflight = null;
        });
    }
    return this.inflight;
  }

  /** Inside the lock: another tab (or call) may have refreshed, or ended the session, meanwhile. */
  private async refreshUnlessDone(seen: number): Promise<string | null> {
    if (this.state === "signed_out") return null;
    if (this.generation !== seen && this.access && this.isFresh(this.access)) return this.access.value;
    const endings = this.endings;
    const generation = this.generation;
    const body: RefreshRequest = { refresh_token: this.refreshToken };
    const init = this.sessionInit(body);
    const response = await this.send(new Request(this.url(`${AUTH}/refresh`), { ...init, method: "POST" }));
    if (this.endings !== endings) return null; // signed out (or ended elsewhere) meanwhile
    if (response.ok) {
      this.adopt(await this.readJson<RefreshResponse>(response));
      return this.access?.value ?? null;
    }
    const error = await AuthError.fromResponse(response);
    // A sign-in in another tab landed meanwhile: the refusal was about the cookie before it.
    const signedInMeanwhile = this.generation !== generation ? this.unexpiredAccess() : null;
    if (signedInMeanwhile) return signedInMeanwhile;
    if (response.status === 401 && refusesTheRefresh(error.code)) {
      // A tab that never held the session (a page load finding no cookie) tells no one.
      this.end(error.code, { announce: this.state === "signed_in", notify: true });
      return null;
    }
    throw error;
  }

  // -- calling the API with the session --------------------------------------

  async fetch(input: string | URL | Request, init?: RequestInit): Promise<Response> {
    const request = new Request(typeof input === "string" ? this.url(input) : input, init);
    const sent = await this.getAccessToken();
    const first = await this.sendWatching(withBearer(request.clone(), sent));
    if (!sent || first.code !== "TOKEN_EXPIRED") return first.response;
    // Expired on the way (a sleeping laptop, a skewed clock): one refresh, one retry, never more.
    const current = this.access;
    const next = current && current.value !== sent && this.isFresh(current) ? current.value : await this.refresh();
    if (!next) return first.response;
    return (await this.sendWatching(withBearer(request.clone(), next))).response;
  }

  async fetchJson<T>(input: string | URL | Request, init?: RequestInit): Promise<T> {
    const response = await this.fetch(input, init);
    if (!response.ok) throw await AuthError.fromResponse(response);
    return this.readJson<T>(response);
  }

  onSessionEnded(callback: (event: SessionEndedEvent) => void): () => void {
    this.listeners.add(callback);
    return () => this.listeners.delete(callback);
  }

  close(): void {
    this.tabs.close();
  }

  // -- state -----------------------------------------------------------------

  private isFresh(token: AccessToken): boolean {
    return token.expiresAt - this.now() > this.marginMs;
  }

  /** The access token while it has not expired (fresh or not): still good for one more call. */
  private unexpiredAccess(): string | null {
    return this.access && this.access.expiresAt > this.now() ? this.access.value : null;
  }

  /** New tokens from the API: keep them, and hand the access token to the other tabs. */
  private adopt(body: TokenResponse): void {
    if (this.transport === "memory") {
      if (!body.refresh_token) {
        throw new AuthError({
          status: 200,
          code: "UNEXPECTED_RESPONSE",
          message: "The API answered no refresh token: is the server expecting the cookie transport?",
        });
      }
      this.refreshToken = body.refresh_token;
    }
    this.access = { value: body.access_token, expiresAt: this.now() + body.expires_in * 1000 };
    this.state = "signed_in";
    this.generation += 1;
    this.tabs.announce({ type: "token", accessToken: this.access.value, expiresAt: this.access.expiresAt });
  }

  private end(reason: SessionEndedReason, how: { announce: boolean; notify: boolean }): void {
    const wasSignedIn = this.state === "signed_in";
    this.access = null;
    this.refreshToken = null;
    this.state = "signed_out";
    this.generation += 1;
    this.endings += 1;
    if (how.announce) this.tabs.announce({ type: "ended", reason });
    if (how.notify && wasSignedIn) this.notify({ reason });
  }

  private notify(event: SessionEndedEvent): void {
    for (const listener of [...this.listeners]) {
      try {
        listener(event);
      } catch (error) {
        setTimeout(() => {
          throw error; // reported like any uncaught error, without stopping the other listeners
        });
      }
    }
  }

  /** Another tab refreshed, signed in, or saw the session end. */
  private receive(message: TabMessage): void {
    if (message.type === "ended") {
      this.end(message.reason, { announce: false, notify: true });
      return;
    }
    if (this.access && this.access.expiresAt > message.expiresAt) return; // an older token, announced late
    this.access = { value: message.accessToken, expiresAt: message.expiresAt };
    this.state = "signed_in";
    this.generation += 1;
  }

  private signedIn(body: TokenResponse): Authenticated {
    this.adopt(body);
    return {
      status: "authenticated",
      user: body.user,
      passwordChangeRequired: body.password_change_required,
      mfaEnrollmentRequired: body.mfa_enrollment_required,
      consentRequired: body.consent_required,
    };
  }

  private mfaStep(challenge: MfaChallenge): MfaStep {
    return {
      status: "mfa_required",
      methods: challenge.methods,
      expiresIn: challenge.expires_in,
      verify: async (code: string) => {
        const proof = TOTP_CODE.test(code.trim()) ? { code: code.trim() } : { recovery_code: code.trim() };
        const body: MfaVerifyRequest = { mfa_token: challenge.mfa_token, ...proof, ...this.transportField() };
        return this.signedIn(await this.postJson<MfaVerifyResponse>(`${AUTH}/mfa/verify`, body, this.cookieInit()));
      },
    };
  }

  // -- HTTP ------------------------------------------------------------------

  private url(path: string): string {
    return path.startsWith("/") ? `${this.baseUrl}${path}` : path;
  }

  /** Sign-in calls with cookies ask for the refresh cookie, and let the browser keep it. */
  private transportField(): { refresh_token_transport?: "cookie" } {
    return this.transport === "cookie" ? { refresh_token_transport: "cookie" } : {};
  }

  private cookieInit(): RequestInit {
    return this.transport === "cookie" ? { credentials: "include" } : {};
  }

  /**
   * Refresh and logout: the refresh token in the body, or by cookie the cookie, with the header
   * that proves a script sent it (and an empty body).
   */
  private sessionInit(body: RefreshRequest | LogoutRequest): RequestInit {
    if (this.transport !== "cookie") return this.jsonInit(body);
    return { ...this.jsonInit({}), credentials: "include", headers: { ...JSON_HEADERS, "X-Requested-With": "fetch" } };
  }

  private jsonInit(body: unknown): RequestInit {
    return { body: JSON.stringify(body), headers: { ...JSON_HEADERS } };
  }

  private async postJson<T>(path: string, body: unknown, init: RequestInit = {}): Promise<T> {
    const headers = new Headers(JSON_HEADERS);
    new Headers(init.headers).forEach((value, name) => headers.set(name, value));
    const response = await this.send(
      new Request(this.url(path), { ...init, method: "POST", headers, body: JSON.stringify(body) }),
    );
    if (!response.ok) throw await AuthError.fromResponse(response);
    return this.readJson<T>(response);
  }

  private async readJson<T>(response: Response): Promise<T> {
    if (response.status === 204) return undefined as T;
    try {
      return (await response.json()) as T;
    } catch (cause) {
      throw new AuthError({
        status: response.status,
        code: "UNEXPECTED_RESPONSE",
        message: "The API's answer is not JSON.",
        requestId: response.headers.get("X-Request-ID"),
        cause,
      });
    }
  }

  /** The request, with a failure to get any answer turned into an AuthError (an abort stays an abort). */
  private async send(request: Request): Promise<Response> {
    try {
      return await this.fetchImpl(request);
    } catch (cause) {
      if (cause instanceof Error && cause.name === "AbortError") throw cause;
      throw new AuthError({ status: 0, code: "NETWORK_ERROR", message: "The API could not be reached.", cause });
    }
  }

  /**
   * A call with the session: a 401 saying the session is over ends it here and in every tab.
   * The 401's code comes back with the answer (null for any other status), read once.
   */
  private async sendWatching(request: Request): Promise<{ response: Response; code: ErrorCode | null }> {
    const response = await this.send(request);
    const code = response.status === 401 ? await errorCodeOf(response) : null;
    if (endsTheSession(code)) this.end(code, { announce: true, notify: true });
    return { response, code };
  }
}

const JSON_HEADERS = { "Content-Type": "application/json", Accept: "application/json" };

function withBearer(request: Request, token: string | null): Request {
  if (token) request.headers.set("Authorization", `Bearer ${token}`);
  return request;
}
