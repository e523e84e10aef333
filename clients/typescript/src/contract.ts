/**
 * Every wire shape this client sends or reads, in one module: each is an alias of a type
 * generated from the OpenAPI document the API serves (src/generated/openapi.d.ts, written by
 * `npm run generate`), so a change of the API's contract is a compile error here, not a
 * surprise in a browser. Nothing else in the package declares a wire shape.
 */
import type { components, operations } from "./generated/openapi.js";

type Schemas = components["schemas"];

/** The JSON body of a request or response entry of the document. */
type Json<T> = T extends { content: { "application/json": infer Body } } ? Body : never;
/** The JSON body an operation (named by its operationId) takes. */
type RequestOf<O extends keyof operations> = Json<NonNullable<operations[O]["requestBody"]>>;
/** The JSON body an operation answers with `status` (a union of statuses: the union of bodies). */
type AnswerOf<O extends keyof operations, S extends keyof operations[O]["responses"]> = Json<
  operations[O]["responses"][S]
>;

export type User = Schemas["UserOut"];
export type MessageResponse = Schemas["MessageResponse"];

export type RegisterRequest = RequestOf<"auth_register">;
export type RegisterResponse = AnswerOf<"auth_register", 201>;
export type VerifyEmailResponse = AnswerOf<"auth_verify_email", 200>;

export type LoginRequest = RequestOf<"auth_login">;
/** `status: "authenticated"` (the tokens) or `status: "mfa_required"` (the challenge). */
export type LoginResponse = AnswerOf<"auth_login", 200>;
/** A session's tokens and what the user must do first; `refresh_token` is left out with the cookie transport. */
export type TokenResponse = Schemas["TokenResponse"];
export type MfaChallenge = Schemas["MfaChallengeResponse"];
export type MfaMethod = MfaChallenge["methods"][number];
export type RefreshTokenTransport = NonNullable<LoginRequest["refresh_token_transport"]>;

export type MfaVerifyRequest = RequestOf<"auth_mfa_verify">;
export type MfaVerifyResponse = AnswerOf<"auth_mfa_verify", 200>;
export type RefreshRequest = RequestOf<"auth_refresh">;
export type RefreshResponse = AnswerOf<"auth_refresh", 200>;
export type LogoutRequest = RequestOf<"auth_logout">;

export type AcceptInvitationRequest = RequestOf<"invitations_accept">;
/** 201: a new account, signed in (the tokens); 200: an existing account got the invitation's role (the user). */
export type AcceptInvitationResponse = AnswerOf<"invitations_accept", 200 | 201>;

/** Every error code the API gives: the document's `ErrorCode` enum. */
export type ErrorCode = Schemas["ErrorCode"];
/** Every non-2xx answer of the API. */
export type ErrorBody = Schemas["ErrorResponse"];
/** Whatever `details` an error can carry (422: the failing fields; 429 and 503: the seconds to wait; ...). */
export type ErrorDetails = NonNullable<Schemas["ErrorDetail"]["details"]>;

/** The document's error bodies, one component per code (`InvalidCredentialsError`, ...). */
type ErrorComponent = Schemas[Extract<keyof Schemas, `${string}Error`>];
/** The error body of one code, or never when no operation documents that code. */
type ErrorComponentOf<C> = Extract<ErrorComponent, { error: { code: C } }>;

/**
 * The `details` an error with code `C` carries: the type its component declares (e.g.
 * `RetryDetails` for `RATE_LIMITED`), null for a code whose body has none, and any of the
 * details for a code no operation documents.
 */
export type ErrorDetailsOf<C> = C extends unknown
  ? [ErrorComponentOf<C>] extends [never]
    ? ErrorDetails | null
    : ErrorComponentOf<C> extends { error: { details: infer Details } }
      ? Details
      : null
  : never;

/** The error codes an operation answers with `status`, e.g. `ErrorCodeOf<"auth_refresh", 401>`. */
export type ErrorCodeOf<O extends keyof operations, S extends keyof operations[O]["responses"]> =
  AnswerOf<O, S> extends { error: { code: infer C } } ? C : never;

/** Every 401 a refresh answers: the session is over (or this browser never had one). */
export type RefreshRefusedCode = ErrorCodeOf<"auth_refresh", 401>;

// The document's own consistency, checked when this package compiles: every code an error
// component narrows to is one of the enum's (so `ErrorCode` covers every body the client can read).
type Assert<T extends true> = T;
type ComponentCodesAreErrorCodes = Assert<ErrorComponent["error"]["code"] extends ErrorCode ? true : false>;
