import { ErrorCode } from './error-code';

/** The one place that maps error codes to HTTP status codes. */
const HTTP_STATUS: Record<ErrorCode, number> = {
  [ErrorCode.ValidationFailed]: 400,
  [ErrorCode.PersistenceDisabled]: 400,
  [ErrorCode.NotAModel]: 400,
  [ErrorCode.ArchivedModel]: 400,
  [ErrorCode.InvalidCron]: 400,
  [ErrorCode.UnsafeSql]: 400,
  [ErrorCode.MalformedMessage]: 400,
  [ErrorCode.UnsupportedVersion]: 400,
  [ErrorCode.UnexpectedEventType]: 400,
  [ErrorCode.Unauthorized]: 401,
  [ErrorCode.NotFound]: 404,
  [ErrorCode.SignInLinkUnknown]: 404,
  // Gone: the link existed and can never work again (ask for a new one)
  [ErrorCode.SignInLinkUsed]: 410,
  [ErrorCode.SignInLinkExpired]: 410,
  [ErrorCode.UnknownDatabase]: 404,
  [ErrorCode.UnknownCard]: 404,
  [ErrorCode.Conflict]: 409,
  [ErrorCode.IllegalStateTransition]: 409,
  [ErrorCode.PayloadTooLarge]: 413,
  [ErrorCode.UnsupportedMediaType]: 415,
  [ErrorCode.CanPersistCheckFailed]: 422,
  [ErrorCode.InvalidModelReference]: 422,
  [ErrorCode.ModelReferenceCycle]: 422,
  [ErrorCode.UpstreamFailed]: 409,
  [ErrorCode.SourceConnection]: 422,
  [ErrorCode.SourceLock]: 409,
  [ErrorCode.SourcePermission]: 422,
  [ErrorCode.SourceTimeout]: 422,
  [ErrorCode.SourceQuery]: 422,
  [ErrorCode.ModelIndexColumn]: 422,
  [ErrorCode.AppDatabaseUnavailable]: 503,
  [ErrorCode.BrokerUnavailable]: 503,
  [ErrorCode.MessageRejected]: 500,
  [ErrorCode.AppDatabaseConflict]: 503,
  [ErrorCode.EmailUnavailable]: 503,
  [ErrorCode.Timeout]: 504,
  [ErrorCode.Internal]: 500,
};

export function httpStatusFor(code: ErrorCode): number {
  return HTTP_STATUS[code];
}
