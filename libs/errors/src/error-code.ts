/** Every failure the system reports carries one of these codes; mappings to HTTP and to Kafka handling key off them. */
export enum ErrorCode {
  // Input and request errors
  ValidationFailed = 'VALIDATION_FAILED',
  Unauthorized = 'UNAUTHORIZED',
  NotFound = 'NOT_FOUND',
  Conflict = 'CONFLICT',
  IllegalStateTransition = 'ILLEGAL_STATE_TRANSITION',
  PayloadTooLarge = 'PAYLOAD_TOO_LARGE',
  UnsupportedMediaType = 'UNSUPPORTED_MEDIA_TYPE',
  PersistenceDisabled = 'PERSISTENCE_DISABLED',
  NotAModel = 'NOT_A_MODEL',
  ArchivedModel = 'ARCHIVED_MODEL',
  InvalidCron = 'INVALID_CRON',
  UnsafeSql = 'UNSAFE_SQL',
  CanPersistCheckFailed = 'CAN_PERSIST_CHECK_FAILED',
  /** A model's `{{#id}}` names a card that is missing, not a model, or on another database. */
  InvalidModelReference = 'INVALID_MODEL_REFERENCE',
  /** Models would read each other in a circle. */
  ModelReferenceCycle = 'MODEL_REFERENCE_CYCLE',
  /** Not built because a model it reads failed in the same run. */
  UpstreamFailed = 'UPSTREAM_FAILED',
  /** A console sign-in link: no such code, or it was already used, or its time is over. */
  SignInLinkUnknown = 'SIGN_IN_LINK_UNKNOWN',
  SignInLinkUsed = 'SIGN_IN_LINK_USED',
  SignInLinkExpired = 'SIGN_IN_LINK_EXPIRED',
  // Messages
  MalformedMessage = 'MALFORMED_MESSAGE',
  UnsupportedVersion = 'UNSUPPORTED_VERSION',
  UnexpectedEventType = 'UNEXPECTED_EVENT_TYPE',
  UnknownDatabase = 'UNKNOWN_DATABASE',
  UnknownCard = 'UNKNOWN_CARD',
  // Source database failures (classified for retries)
  SourceConnection = 'SOURCE_CONNECTION',
  SourceLock = 'SOURCE_LOCK',
  SourcePermission = 'SOURCE_PERMISSION',
  SourceTimeout = 'SOURCE_TIMEOUT',
  SourceQuery = 'SOURCE_QUERY',
  /** A managed index (or incremental key / checkpoint) names a column the model's query does not return. */
  ModelIndexColumn = 'MODEL_INDEX_COLUMN',
  // Infrastructure
  AppDatabaseUnavailable = 'APP_DATABASE_UNAVAILABLE',
  BrokerUnavailable = 'BROKER_UNAVAILABLE',
  /** The broker answered and refused this record for good (too large, invalid): retrying cannot help. */
  MessageRejected = 'MESSAGE_REJECTED',
  /** The app database aborted a transaction for a deadlock or a serialization failure: run it again. */
  AppDatabaseConflict = 'APP_DATABASE_CONFLICT',
  EmailUnavailable = 'EMAIL_UNAVAILABLE',
  Timeout = 'TIMEOUT',
  Internal = 'INTERNAL',
}
