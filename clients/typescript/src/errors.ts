/**
 * The one error class the client throws: the API's error body, typed, or what stood in for it.
 */
import type { ErrorBody, ErrorCode } from "./contract.js";

/** Codes the client itself gives when there was no error body to read. */
export type ClientErrorCode =
  /** The request never got an answer (offline, DNS, CORS refused): `status` is 0. */
  | "NETWORK_ERROR"
  /** An answer that is not the API's (a proxy's HTML page, a body that is not the documented JSON). */
  | "UNEXPECTED_RESPONSE";

export type AuthErrorCode = ErrorCode | ClientErrorCode;

export interface AuthErrorInit {
  status: number;
  code: AuthErrorCode;
  message: string;
  details?: Record<string, unknown> | null;
  requestId?: string | null;
  cause?: unknown;
}

/**
 * Every failure of a client call: `status` (0 when nothing answered), `code`
 * (the API's machine code, typed: a misspelt code does not compile), the
 * API's `details` (for 422 the failing fields) and `requestId` (quote it to
 * support: it is in the API's log).
 */
export class AuthError extends Error {
  override readonly name = "AuthError";
  readonly status: number;
  readonly code: AuthErrorCode;
  readonly details: Record<string, unknown> | null;
  readonly requestId: string | null;

  constructor(init: AuthErrorInit) {
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

export function isAuthError(value: unknown): value is AuthError {
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
