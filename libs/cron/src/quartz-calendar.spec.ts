import { Cron } from 'croner';
import fc from 'fast-check';
import { QuartzPattern } from './quartz-calendar';
import { QUARTZ_FORMAT_MESSAGE, QuartzSchedule, validateQuartzCron } from './quartz-cron';

/**
 * Differential spec: the compact evaluator against croner 10 (the library it replaced, with the options the
 * project used), on random Quartz expressions, instants and zones. Where they disagree, croner must have
 * skipped a time it itself says matches (croner 10 jumps from day 30 of February to 2 March, skipping the 1st).
 */
const ZONES = [
  'UTC',
  'Europe/Berlin',
  'America/New_York',
  'Australia/Lord_Howe', // 30-minute daylight-saving shift
  'Asia/Kolkata',
  'America/Sao_Paulo',
  'Pacific/Chatham',
  'America/St_Johns',
];

function reference(expression: string, timeZone: string): Cron {
  return new Cron(expression, {
    paused: true,
    ...(timeZone === 'UTC' ? { utcOffset: 0 } : { timezone: timeZone }),
    mode: '7-part',
    alternativeWeekdays: true,
    sloppyRanges: true,
    domAndDow: true,
  });
}

/** The validation the project had with croner: its fields check, then croner's parse error, if any. */
function referenceValidation(expression: string): string {
  try {
    validateQuartzCron(expression);
  } catch (e) {
    // fields check or parse failed in the new code: the fields check is shared, so compare parse messages
    const message = (e as Error).message;
    if (!message.startsWith(`${QUARTZ_FORMAT_MESSAGE}: `)) return `fields: ${message}`;
  }
  const normalized = expression.trim().split(/\s+/).join(' ');
  // croner took a string V8 parses as a date for a one-off date job; refused now
  if (normalized.indexOf(':') > 0 && !isNaN(Date.parse(normalized)))
    return `${QUARTZ_FORMAT_MESSAGE}: CronPattern: a date is not a cron pattern: '${normalized}'`;
  try {
    reference(normalized, 'UTC');
    return 'ok';
  } catch (e) {
    return `${QUARTZ_FORMAT_MESSAGE}: ${(e as Error).message}`;
  }
}

function ours(expression: string): string {
  try {
    validateQuartzCron(expression);
    return 'ok';
  } catch (e) {
    const message = (e as Error).message;
    return message.startsWith(`${QUARTZ_FORMAT_MESSAGE}: `) ? message : `fields: ${message}`;
  }
}

const int = (lo: number, hi: number) => fc.integer({ min: lo, max: hi });

function field(lo: number, hi: number, extra: fc.Arbitrary<string>[] = []): fc.Arbitrary<string> {
  const n = int(lo, hi).map(String);
  const range = fc.tuple(int(lo, hi), int(lo, hi)).map(([a, b]) => `${Math.min(a, b)}-${Math.max(a, b)}`);
  const step = fc
    .tuple(fc.oneof(fc.constant('*'), n, fc.constant('')), int(1, hi - lo))
    .map(([a, b]) => `${a}/${b}`);
  const rangeStep = fc.tuple(range, int(1, hi - lo)).map(([r, s]) => `${r}/${s}`);
  const atom = fc.oneof(n, range, step, rangeStep, ...extra);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant('*') },
    { weight: 4, arbitrary: atom },
    {
      weight: 2,
      arbitrary: fc.array(fc.oneof(n, range), { minLength: 2, maxLength: 4 }).map((l) => l.join(',')),
    },
  );
}

const dom = fc.oneof(
  field(1, 31),
  fc.constantFrom('L', 'LW', '15W', '1W', '31W', '30W', 'L', '29,30', '1,30', '31'),
);
const dow = fc.oneof(
  field(1, 7),
  fc.tuple(int(1, 7), int(1, 5)).map(([d, n]) => `${d}#${n}`),
  int(1, 7).map((d) => `${d}L`),
  fc.constantFrom('MON-FRI', 'SAT,SUN', '2,6#3', '1L,7#1'),
);
const month = fc.oneof(
  { weight: 3, arbitrary: field(1, 12) },
  { weight: 1, arbitrary: fc.constantFrom('FEB', 'JAN-MAR', '2,3') },
);

/** Valid Quartz expressions: exactly one of the day fields is `?`. */
const expression = fc
  .tuple(field(0, 59), field(0, 59), field(0, 23), dom, month, dow, fc.boolean())
  .map(
    ([s, m, h, d, mo, w, dayOfMonth]) =>
      `${s} ${m} ${h} ${dayOfMonth ? d : '?'} ${mo} ${dayOfMonth ? '?' : w} *`,
  );

const instant = int(Date.UTC(2020, 0, 1), Date.UTC(2035, 0, 1)).map((t) => new Date(t));

function compareRuns(expr: string, zone: string, after: Date): void {
  const cron = reference(expr, zone);
  const want = cron.nextRuns(5, after).map((d) => d.getTime());
  const got = new QuartzSchedule(expr, zone).nextRuns(5, after).map((d) => d.getTime());
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    if (got[i] === want[i]) continue;
    // croner skipped a fire time that it itself matches: ours is earlier and croner agrees it matches
    const context = `${expr} ${zone} after ${after.toISOString()}: ours ${iso(got[i])}, croner ${iso(want[i])}`;
    expect({
      context,
      earlier: got[i] < (want[i] ?? Infinity),
      matches: cron.match(new Date(got[i])),
    }).toEqual({
      context,
      earlier: true,
      matches: true,
    });
    return; // chains diverge from here
  }
}

const iso = (t: number | undefined) => (t === undefined ? 'none' : new Date(t).toISOString());

describe('QuartzPattern against croner', () => {
  it('validates like croner, message for message', () => {
    const junk = fc
      .array(
        fc.constantFrom(
          '*',
          '?',
          '0',
          '5',
          '7',
          '8',
          '24',
          '32',
          '60',
          '-',
          '/',
          ',',
          '#',
          'L',
          'W',
          'X',
          ':',
          'MON',
          'JAN',
          '+',
          ' ',
        ),
        {
          maxLength: 12,
        },
      )
      .map((l) => l.join(''));
    const shaped = fc
      .tuple(fc.array(junk, { minLength: 7, maxLength: 7 }), fc.boolean())
      .map(([f, dayOfMonth]) => {
        const parts = f.map((x) => x.replace(/\s/g, '') || '*');
        parts[6] = '*';
        parts[dayOfMonth ? 5 : 3] = '?';
        return parts.join(' ');
      });
    fc.assert(
      fc.property(fc.oneof(shaped, expression, junk), (expr) => {
        expect(ours(expr)).toBe(referenceValidation(expr));
      }),
      { numRuns: 1200 },
    );
  });

  it('computes the same next five fire times in every zone', () => {
    fc.assert(
      fc.property(expression, fc.constantFrom(...ZONES), instant, (expr, zone, after) =>
        compareRuns(expr, zone, after),
      ),
      { numRuns: 150 },
    );
  });

  it('follows daylight-saving changes like croner around each transition', () => {
    const transitions = [
      ['America/New_York', '2026-03-08T06:00:00Z'],
      ['America/New_York', '2026-11-01T05:00:00Z'],
      ['Europe/Berlin', '2026-03-29T00:30:00Z'],
      ['Europe/Berlin', '2026-10-25T00:00:00Z'],
      ['Australia/Lord_Howe', '2026-04-04T14:00:00Z'],
      ['Australia/Lord_Howe', '2026-10-03T15:00:00Z'],
    ] as const;
    const nearTransition = fc
      .tuple(fc.constantFrom(...transitions), int(-3 * 3_600_000, 3 * 3_600_000))
      .map(([[zone, at], delta]) => ({ zone, after: new Date(Date.parse(at) + delta) }));
    const frequent = fc.constantFrom(
      '0 30 2 * * ? *',
      '0 0/15 * * * ? *',
      '0 0 1-3 * * ? *',
      '0 45 1 * * ? *',
      '30 * 2 * * ? *',
      '0 0 0/6 * * ? *',
    );
    fc.assert(
      fc.property(fc.oneof(frequent, expression), nearTransition, (expr, { zone, after }) =>
        compareRuns(expr, zone, after),
      ),
      { numRuns: 120 },
    );
  });

  it('finds the latest fire at or before a time like croner', () => {
    const everyDay = fc
      .tuple(field(0, 59), field(0, 59), field(0, 23))
      .map(([s, m, h]) => `${s} ${m} ${h} * * ? *`);
    fc.assert(
      fc.property(everyDay, fc.constantFrom(...ZONES), instant, (expr, zone, at) => {
        const ref = new Date(Math.floor(at.getTime() / 1000) * 1000 + 1000);
        const want = reference(expr, zone).previousRuns(1, ref)[0]?.getTime();
        expect(iso(new QuartzSchedule(expr, zone).previousAtOrBefore(at)?.getTime())).toBe(iso(want));
      }),
      { numRuns: 300 },
    );
  });

  it('shares one parsed pattern per expression text', () => {
    expect(QuartzPattern.of('0 15 3 * * ? *')).toBe(QuartzPattern.of('0 15 3 * * ? *'));
  });

  it('does not skip 1 March after a day-30 pattern in February (croner 10 does)', () => {
    const runs = new QuartzSchedule('0 0 0 1,30 * ? *').nextRuns(2, new Date('2027-02-15T00:00:00Z'));
    expect(runs.map((d) => d.toISOString())).toEqual([
      '2027-03-01T00:00:00.000Z',
      '2027-03-30T00:00:00.000Z',
    ]);
  });
});
