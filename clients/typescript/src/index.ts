/**
 * The Augeo Platform API's browser client: sign-in with the second factor, the
 * session's tokens across tabs, and a fetch that carries them. See README.md.
 */
export {
  type AcceptInvitationResult,
  type AuthClient,
  type AuthClientOptions,
  type Authenticated,
  createAuthClient,
  type MfaStep,
  type SessionEndedEvent,
  type SignInResult,
  type Transport,
} from "./client.js";
export type {
  AcceptInvitationRequest,
  ErrorCode,
  ErrorDetails,
  ErrorDetailsOf,
  MessageResponse,
  MfaMethod,
  RefreshRefusedCode,
  RegisterRequest,
  RegisterResponse,
  TokenResponse,
  User,
  VerifyEmailResponse,
} from "./contract.js";
export type { components, operations, paths } from "./generated/openapi.js";
export {
  type AnyAuthError,
  AuthError,
  type AuthErrorCode,
  type AuthErrorDetails,
  type ClientErrorCode,
  isAuthError,
} from "./errors.js";
export type { ChannelConstructor, ChannelLike, LockManagerLike, SessionEndedReason } from "./tabs.js";
