import { Cron } from 'croner';
import { DomainError, ErrorCode } from '@model-persistence/errors';

export const QUARTZ_FORMAT_MESSAGE =
  'Value must be a string representing a cron schedule of format <seconds> <minutes> <hours> <day of month> <month> <day of week> <year>';
export const QUARTZ_YEAR_MESSAGE = 'Must be a valid cron string not specifying a year';

export const DEFAULT_REFRESH_CRON = '0 0 0/6 * * ? *';
export const PRUNE_CRON = '0 0 0/1 * * ? *';

function build(expression: string, timeZone: string): Cron {
  return new Cron(expression, {
    paused: true,
    // UTC needs no zone rules: a fixed offset is ~20x faster per next-fire and allocates far less than Intl
    ...(timeZone === 'UTC' || timeZone === 'Etc/UTC' ? { utcOffset: 0 } : { timezone: timeZone }),
    mode: '7-part',
    // Quartz semantics: 1 = Sunday … 7 = Saturday, `0/6` steps, and `?` meaning "no constraint"
    // in one of the day fields, so day-of-month and day-of-week combine with AND.
    alternativeWeekdays: true,
    sloppyRanges: true,
    domAndDow: true,
  });
}

/**
 * Validates a Quartz cron the way the reference does: exactly 7 space-separated fields and year `*`,
 * then that the expression parses. Throws DomainError(INVALID_CRON) with the expected format.
 */
export function validateQuartzCron(expression: unknown): string {
  const normalized = checkQuartzFields(expression);
  parse(normalized, 'UTC');
  return normalized;
}

function checkQuartzFields(expression: unknown): string {
  if (typeof expression !== 'string') throw new DomainError(ErrorCode.InvalidCron, QUARTZ_FORMAT_MESSAGE);
  const fields = expression.trim().split(/\s+/);
  if (expression.trim() === '' || fields.length !== 7)
    throw new DomainError(ErrorCode.InvalidCron, QUARTZ_FORMAT_MESSAGE);
  if (fields[6] !== '*') throw new DomainError(ErrorCode.InvalidCron, QUARTZ_YEAR_MESSAGE);
  const [, , , dom, , dow] = fields;
  if (dom !== '?' && dow !== '?') {
    throw new DomainError(
      ErrorCode.InvalidCron,
      `${QUARTZ_FORMAT_MESSAGE}; one of <day of month> and <day of week> must be "?"`,
    );
  }
  return fields.join(' ');
}

/** Fields already checked: one croner parse (each holds an ~80 KB year table, so parse once, not twice). */
function parse(normalized: string, timeZone: string): Cron {
  try {
    return build(normalized, timeZone);
  } catch (e) {
    throw new DomainError(ErrorCode.InvalidCron, `${QUARTZ_FORMAT_MESSAGE}: ${(e as Error).message}`);
  }
}

const knownZones = new Set<string>(['UTC']);

export function validateTimeZone(timeZone: string): string {
  if (knownZones.has(timeZone)) return timeZone;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone }).format(0);
    knownZones.add(timeZone);
    return timeZone;
  } catch {
    throw new DomainError(
      ErrorCode.ValidationFailed,
      `unknown time zone "${timeZone}"; use an IANA name like Europe/Berlin`,
    );
  }
}

/** A validated Quartz schedule in a time zone; next fire times follow that zone's daylight-saving rules. */
export class QuartzSchedule {
  private readonly cron: Cron;

  constructor(
    readonly expression: string,
    readonly timeZone = 'UTC',
  ) {
    const zone = validateTimeZone(timeZone);
    this.cron = parse(checkQuartzFields(expression), zone);
  }

  /** The first fire time strictly after `after`. */
  nextAfter(after: Date): Date | null {
    return this.cron.nextRun(after);
  }

  nextRuns(count: number, after: Date): Date[] {
    return this.cron.nextRuns(count, after);
  }

  /** The latest fire time at or before `at`, if any within the last `lookbackMs`. */
  previousAtOrBefore(at: Date): Date | null {
    // croner's previousRuns excludes the whole second of its reference: start from the next second
    const prev = this.cron.previousRuns(1, new Date(Math.floor(at.getTime() / 1000) * 1000 + 1000));
    return prev[0] ?? null;
  }
}
