/**
 * Every wire shape this client sends or reads, in one module.
 *
 * Where the served OpenAPI document already says what the API does, the type
 * is an alias of the generated one (src/generated/openapi.d.ts, from
 * `npm run generate`). Where the API is about to change (the refresh-token
 * transport, the `status` discriminator of sign-in, invitations, the enum of
 * error codes), the shape is declared here by hand, marked with the comment
 * below, and is to be replaced by the generated type once the document
 * carries it. Nothing else in the package declares a wire shape.
 */
import type { components } from "./generated/openapi.js";

type Schemas = components["schemas"];

export type User = Schemas["UserOut"];
export type RegisterResponse = Schemas["RegisterResponse"];
export type VerifyEmailResponse = Schemas["UserMessageResponse"];
export type MessageResponse = Schemas["MessageResponse"];
export type MfaMethod = Schemas["MfaChallengeResponse"]["methods"][number];

type RegisterFields = Schemas["RegisterRequest"];
type RequiredRegisterField = "email" | "password" | "first_name" | "last_name";
// until the typed contract lands: replace with the generated type
// (today the document marks the optional profile fields required, with a null default).
export type RegisterRequest = Pick<RegisterFields, RequiredRegisterField> &
  Partial<Omit<RegisterFields, RequiredRegisterField>>;

// until the typed contract lands: replace with the generated type
export type RefreshTokenTransport = "body" | "cookie";

// until the typed contract lands: replace with the generated type
export interface LoginRequest {
  email: string;
  password: string;
  refresh_token_transport?: RefreshTokenTransport;
}

// until the typed contract lands: replace with the generated type
export interface MfaVerifyRequest {
  mfa_token: string;
  code?: string;
  recovery_code?: string;
  refresh_token_transport?: RefreshTokenTransport;
}

// until the typed contract lands: replace with the generated type
// (the cookie transport leaves refresh_token out; sign-in adds `status` and the pending steps).
export type TokenResponse = Omit<Schemas["TokenResponse"], "refresh_token" | "password_change_required"> & {
  status?: "authenticated";
  refresh_token?: string;
  password_change_required?: boolean;
  mfa_enrollment_required?: boolean;
  consent_required?: boolean;
};

// until the typed contract lands: replace with the generated type
// (with the cookie transport a refresh answers the access token only).
export type RefreshResponse = Schemas["AccessTokenResponse"] & { refresh_token?: string };

// until the typed contract lands: replace with the generated type
export type MfaChallenge = Omit<Schemas["MfaChallengeResponse"], "mfa_required"> & {
  status?: "mfa_required";
  mfa_required?: true;
};

// until the typed contract lands: replace with the generated type
export type LoginResponse = TokenResponse | MfaChallenge;

// until the typed contract lands: replace with the generated type
// (then this is `body.status === "mfa_required"`; today's challenge says only `mfa_required: true`).
export function isMfaChallenge(body: LoginResponse): body is MfaChallenge {
  return body.status === "mfa_required" || ("mfa_required" in body && body.mfa_required === true);
}

// until the typed contract lands: replace with the generated type
export interface AcceptInvitationRequest {
  token: string;
  password?: string;
  first_name?: string;
  last_name?: string;
  refresh_token_transport?: RefreshTokenTransport;
}

// until the typed contract lands: replace with the generated type
// (a new account is signed in: the token response; an existing one gets its new role: the user).
export type AcceptInvitationResponse = TokenResponse | User;

// until the typed contract lands: replace with the generated type
export type ErrorCode =
  | "INVALID_JSON"
  | "VALIDATION_ERROR"
  | "INVALID_TOKEN"
  | "AUTHENTICATION_REQUIRED"
  | "INVALID_CREDENTIALS"
  | "INVALID_REFRESH_TOKEN"
  | "TOKEN_EXPIRED"
  | "SESSION_ENDED"
  | "REFRESH_TOKEN_REUSED"
  | "CSRF_CHECK_FAILED"
  | "EMAIL_NOT_VERIFIED"
  | "ACCOUNT_DEACTIVATED"
  | "ACCOUNT_ERASED"
  | "PASSWORD_CHANGE_REQUIRED"
  | "MFA_ENROLLMENT_REQUIRED"
  | "MFA_STEP_UP_REQUIRED"
  | "REAUTHENTICATION_REQUIRED"
  | "CONSENT_REQUIRED"
  | "MFA_ALREADY_ENABLED"
  | "MFA_NOT_ENABLED"
  | "MFA_NOT_ENROLLING"
  | "INVALID_MFA_CODE"
  | "MFA_CODE_ALREADY_USED"
  | "INVALID_MFA_TOKEN"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "EVENT_NOT_FOUND"
  | "METHOD_NOT_ALLOWED"
  | "DUPLICATE_EMAIL"
  | "CONFLICT"
  | "ROLE_CONFLICT"
  | "INVITATION_NOT_PENDING"
  | "LAST_SUPER_ADMIN"
  | "ROLE_NOT_EVENT_SCOPED"
  | "EVENT_IN_OTHER_NPO"
  | "DOCUMENT_VERSION_CONFLICT"
  | "PAYLOAD_TOO_LARGE"
  | "UNSUPPORTED_MEDIA_TYPE"
  | "RATE_LIMITED"
  | "INTERNAL_ERROR"
  | "SERVICE_UNAVAILABLE";

// until the typed contract lands: replace with the generated type
export interface ErrorBody {
  error: Omit<Schemas["ErrorDetail"], "code"> & { code: ErrorCode };
}
