/**
 * The one error class the client throws: the API's error body, typed, or what stood in for it.
 */
import type { ErrorBody, ErrorCode, ErrorDetailsOf } from "./contract.js";

/** Codes the client itself gives when there was no error body to read. */
export type ClientErrorCode =
  /** The request never got an answer (offline, DNS, CORS refused): `status` is 0. */
  | "NETWORK_ERROR"
  /** An answer that is not the API's (a proxy's HTML page, a body that is not the documented JSON). */
  | "UNEXPECTED_RESPONSE";

export type AuthErrorCode = ErrorCode | ClientErrorCode;

/** What an error with code `C` carries in `details`: the document's type for the API's codes, null for the client's. */
export type AuthErrorDetails<C extends AuthErrorCode> = C extends ClientErrorCode ? null : ErrorDetailsOf<C>;

export interface AuthErrorInit<C extends AuthErrorCode = AuthErrorCode> {
  status: number;
  code: C;
  message: string;
  details?: AuthErrorDetails<C> | null;
  requestId?: string | null;
  cause?: unknown;
}

/**
 * Every failure of a client call: `status` (0 when nothing answered), `code`
 * (the API's machine code, typed from its document: a misspelt code does not
 * compile), the API's `details` (typed per code: for 422 the failing fields,
 * for 429 and 503 the seconds to wait) and `requestId` (quote it to support:
 * it is in the API's log).
 */
export class AuthError<C extends AuthErrorCode = AuthErrorCode> extends Error {
  override readonly name = "AuthError";
  readonly status: number;
  readonly code: C;
  readonly details: AuthErrorDetails<C> | null;
  readonly requestId: string | null;

  constructor(init: AuthErrorInit<C>) {
    super(init.message, init.cause === undefined ? undefined : { cause: init.cause });
    this.status = init.status;
    this.code = init.code;
    this.details = init.details ?? null;
    this.requestId = init.requestId ?? null;
  }

  /** The error a non-2xx answer carries. Reads (consumes) the response's body. */
  static async fromResponse(response: Response): Promise<AuthError> {
    const requestId = response.headers.get("X-Request-ID");
    const body = await readErrorBody(response);
    if (body === null) {
      return new AuthError({
        status: response.status,
        code: "UNEXPECTED_RESPONSE",
        message: `The API answered ${response.status} without its error body.`,
        requestId,
      });
    }
    return new AuthError({
      status: response.status,
      code: body.error.code,
      message: body.error.message,
      details: body.error.details,
      requestId: body.error.request_id || requestId,
    });
  }
}

/** An AuthError of any one code: narrowing on `code` narrows `details` to that code's type. */
export type AnyAuthError = { [C in AuthErrorCode]: AuthError<C> }[AuthErrorCode];

/** Whether `value` is an AuthError; then `error.code === "RATE_LIMITED"` types `error.details` as the wait. */
export function isAuthError(value: unknown): value is AnyAuthError {
  return value instanceof AuthError;
}

/** The error code of an answer, read from a copy so the caller still gets the whole response. */
export async function errorCodeOf(response: Response): Promise<ErrorCode | null> {
  const body = await readErrorBody(response.clone());
  return body === null ? null : body.error.code;
}

async function readErrorBody(response: Response): Promise<ErrorBody | null> {
  let parsed: unknown;
  try {
    parsed = await response.json();
  } catch {
    return null;
  }
  return isErrorBody(parsed) ? parsed : null;
}

function isErrorBody(value: unknown): value is ErrorBody {
  if (typeof value !== "object" || value === null || !("error" in value)) return false;
  const error: unknown = value.error;
  return (
    typeof error === "object" &&
    error !== null &&
    "code" in error &&
    typeof error.code === "string" &&
    "message" in error &&
    typeof error.message === "string"
  );
}
