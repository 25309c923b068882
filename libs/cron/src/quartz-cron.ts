import { addSeconds, QuartzPattern, ZoneClock } from './quartz-calendar';
import { DomainError, ErrorCode } from '@model-persistence/errors';

export const QUARTZ_FORMAT_MESSAGE =
  'Value must be a string representing a cron schedule of format <seconds> <minutes> <hours> <day of month> <month> <day of week> <year>';
export const QUARTZ_YEAR_MESSAGE = 'Must be a valid cron string not specifying a year';

export const DEFAULT_REFRESH_CRON = '0 0 0/6 * * ? *';
export const PRUNE_CRON = '0 0 0/1 * * ? *';

/**
 * Validates a Quartz cron the way the reference does: exactly 7 space-separated fields and year `*`,
 * then that the expression parses. Throws DomainError(INVALID_CRON) with the expected format.
 */
export function validateQuartzCron(expression: unknown): string {
  const normalized = checkQuartzFields(expression);
  parse(normalized);
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

/**
 * Fields already checked: the shared parsed pattern (croner's messages, so a bad cron reads as before).
 * An expression with a colon is a date to croner, never a pattern: refused.
 */
function parse(normalized: string): QuartzPattern {
  try {
    if (normalized.indexOf(':') > 0)
      throw new TypeError(
        isNaN(Date.parse(normalized))
          ? 'Invalid ISO8601 passed to timezone parser.'
          : // croner took such a string for a one-off date and fired once; a cron it is not
            `CronPattern: a date is not a cron pattern: '${normalized}'`,
      );
    return QuartzPattern.of(normalized);
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

/**
 * A validated Quartz schedule in a time zone; next fire times follow that zone's daylight-saving rules.
 * Cheap to create: the parsed pattern is shared by expression text (QuartzPattern.of).
 */
export class QuartzSchedule {
  private readonly pattern: QuartzPattern;
  private readonly clock: ZoneClock;

  constructor(
    readonly expression: string,
    readonly timeZone = 'UTC',
  ) {
    this.clock = ZoneClock.of(validateTimeZone(timeZone));
    this.pattern = parse(checkQuartzFields(expression));
  }

  /** The first fire time strictly after `after` (the next whole wall-clock second on). */
  nextAfter(after: Date): Date | null {
    const next = this.pattern.nextWall(addSeconds(this.clock.wall(after.getTime()), 1));
    return next ? new Date(this.clock.instant(next)) : null;
  }

  /** The next `count` fire times after `after`, each found from the previous one's wall time. */
  nextRuns(count: number, after: Date): Date[] {
    const out: Date[] = [];
    let wall = this.clock.wall(after.getTime());
    while (out.length < count) {
      const next = this.pattern.nextWall(addSeconds(wall, 1));
      if (!next) break;
      out.push(new Date(this.clock.instant(next)));
      wall = next;
    }
    return out;
  }

  /** The latest fire time at or before `at` (within the last thousand years). */
  previousAtOrBefore(at: Date): Date | null {
    const prev = this.pattern.previousWall(this.clock.wall(Math.floor(at.getTime() / 1000) * 1000));
    return prev ? new Date(this.clock.instant(prev)) : null;
  }
}
