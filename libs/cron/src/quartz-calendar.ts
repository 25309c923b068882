/**
 * A compact Quartz cron evaluator: each pattern is parsed once into a 225-byte table (seconds, minutes, hours,
 * day of month, month, day of week with its #/L bits, nearest-weekday days) and shared by every schedule with
 * the same text. It replaces croner at run time because croner keeps an ~80 KB year table per parsed pattern
 * (10,000 per-model crons cost ~800 MB of allocations). Parsing follows croner 10 with the options the project
 * used (7 parts, Quartz weekdays 1 = Sunday, sloppy `0/6` steps, day-of-month AND day-of-week), message for
 * message, so validation errors are unchanged; next/previous fire times are the earliest/latest matching wall
 * time in the zone, converted to an instant the way croner does (libs/cron/src/quartz-calendar.spec.ts checks
 * both against croner on random expressions, instants and zones).
 */

const SEC = 0;
const MIN = 60;
const HOUR = 120;
const DAY = 144;
const MONTH = 175;
const DOW = 187;
const NEAREST = 194;
const TABLE_SIZE = 225;

type Part = 'second' | 'minute' | 'hour' | 'day' | 'month' | 'dayOfWeek' | 'nearestWeekdays';
const OFFSET: Record<Part, number> = {
  second: SEC,
  minute: MIN,
  hour: HOUR,
  day: DAY,
  month: MONTH,
  dayOfWeek: DOW,
  nearestWeekdays: NEAREST,
};
const LENGTH: Record<Part, number> = {
  second: 60,
  minute: 60,
  hour: 24,
  day: 31,
  month: 12,
  dayOfWeek: 7,
  nearestWeekdays: 31,
};
/** nth weekday bits (#1 … #5); 32 is "last" (L). */
const NTH = [1, 2, 4, 8, 16];
/** Years croner searches up to before giving up on a pattern that never matches again. */
const LAST_YEAR = 3000;

/** A wall-clock time in some zone; month 0-11. */
export interface WallTime {
  y: number;
  mo: number;
  d: number;
  h: number;
  mi: number;
  s: number;
}

/** A parsed Quartz pattern (year always `*`). Immutable; obtain through QuartzPattern.of to share it. */
export class QuartzPattern {
  private static readonly interned = new Map<string, QuartzPattern>();
  /** Bound on interned patterns (a few hundred bytes each): the API parses whatever users type. */
  static maxInterned = 65_536;

  readonly table = new Uint8Array(TABLE_SIZE);
  lastDayOfMonth = false;
  lastWeekday = false;
  starDOW = false;
  /** Days of month (1-31) with a `W` (nearest weekday) entry. */
  nearest: number[] = [];

  private constructor(readonly pattern: string) {}

  /**
   * The parsed pattern for a normalized 7-field expression (fields single-space separated), shared by text.
   * Throws croner's error (TypeError/RangeError/Error with croner's message) for an invalid one.
   */
  static of(normalized: string): QuartzPattern {
    const hit = QuartzPattern.interned.get(normalized);
    if (hit) return hit;
    const p = new QuartzPattern(normalized);
    new PatternParser(p).parse();
    if (QuartzPattern.interned.size >= QuartzPattern.maxInterned) QuartzPattern.interned.clear();
    QuartzPattern.interned.set(normalized, p);
    return p;
  }

  static get internedCount(): number {
    return QuartzPattern.interned.size;
  }

  /** Whether the day (month 0-11) matches day-of-month and day-of-week (ANDed, as Quartz `?` implies). */
  dayMatches(y: number, mo: number, d: number): boolean {
    const t = this.table;
    let ok = t[DAY + d - 1] !== 0;
    if (!ok)
      for (const n of this.nearest)
        if (nearestWeekday(y, mo, n) === d) {
          ok = true;
          break;
        }
    if (this.lastWeekday && d === lastWeekdayOf(y, mo)) ok = true;
    if (this.lastDayOfMonth && d === monthLength(y, mo)) ok = true;
    if (!ok || this.starDOW) return ok;
    const c = t[DOW + new Date(Date.UTC(y, mo, d)).getUTCDay()];
    if (c === 0) return false;
    const nth = Math.floor((d - 1) / 7); // this weekday's occurrence in the month, 0-based
    if (NTH[nth] & c) return true;
    return (c & 32) !== 0 && d + 7 > monthLength(y, mo);
  }

  /** Earliest (h, mi, s) at or after the given time of day, or null. */
  private timeAtOrAfter(h: number, mi: number, s: number): [number, number, number] | null {
    const t = this.table;
    for (let H = h; H < 24; H++) {
      if (!t[HOUR + H]) continue;
      for (let M = H === h ? mi : 0; M < 60; M++) {
        if (!t[MIN + M]) continue;
        for (let S = H === h && M === mi ? s : 0; S < 60; S++) if (t[SEC + S]) return [H, M, S];
      }
    }
    return null;
  }

  /** Latest (h, mi, s) at or before the given time of day, or null. */
  private timeAtOrBefore(h: number, mi: number, s: number): [number, number, number] | null {
    const t = this.table;
    for (let H = h; H >= 0; H--) {
      if (!t[HOUR + H]) continue;
      for (let M = H === h ? mi : 59; M >= 0; M--) {
        if (!t[MIN + M]) continue;
        for (let S = H === h && M === mi ? s : 59; S >= 0; S--) if (t[SEC + S]) return [H, M, S];
      }
    }
    return null;
  }

  /** The earliest matching wall time at or after `from` (normalized fields), or null before year 3000. */
  nextWall(from: WallTime): WallTime | null {
    let { y, mo, d } = from;
    let h = from.h;
    let mi = from.mi;
    let s = from.s;
    const t = this.table;
    while (y < LAST_YEAR) {
      if (!t[MONTH + mo] || d > monthLength(y, mo)) {
        if (++mo > 11) {
          mo = 0;
          y++;
        }
        d = 1;
        h = mi = s = 0;
        continue;
      }
      if (this.dayMatches(y, mo, d)) {
        const time = this.timeAtOrAfter(h, mi, s);
        if (time) return { y, mo, d, h: time[0], mi: time[1], s: time[2] };
      }
      d++;
      h = mi = s = 0;
    }
    return null;
  }

  /** The latest matching wall time at or before `from`, searching back at most `years` years. */
  previousWall(from: WallTime, years = 1000): WallTime | null {
    let { y, mo, d } = from;
    let h = from.h;
    let mi = from.mi;
    let s = from.s;
    const t = this.table;
    const stop = from.y - years;
    while (y > stop && y >= 0) {
      if (!t[MONTH + mo] || d < 1) {
        if (--mo < 0) {
          mo = 11;
          y--;
        }
        d = monthLength(y, mo);
        h = 23;
        mi = s = 59;
        continue;
      }
      if (this.dayMatches(y, mo, d)) {
        const time = this.timeAtOrBefore(h, mi, s);
        if (time) return { y, mo, d, h: time[0], mi: time[1], s: time[2] };
      }
      d--;
      h = 23;
      mi = s = 59;
    }
    return null;
  }
}

export function monthLength(y: number, mo: number): number {
  return mo === 1
    ? new Date(Date.UTC(y, 2, 0)).getUTCDate()
    : [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][mo];
}

function lastWeekdayOf(y: number, mo: number): number {
  const last = monthLength(y, mo);
  const wd = new Date(Date.UTC(y, mo, last)).getUTCDay();
  return wd === 0 ? last - 2 : wd === 6 ? last - 1 : last;
}

/** Quartz `nW`: the weekday nearest the nth, never leaving the month; -1 if the month has no nth. */
function nearestWeekday(y: number, mo: number, n: number): number {
  const last = monthLength(y, mo);
  if (n > last) return -1;
  const wd = new Date(Date.UTC(y, mo, n)).getUTCDay();
  if (wd === 0) return n === last ? n - 2 : n + 1;
  if (wd === 6) return n === 1 ? n + 2 : n - 1;
  return n;
}

/** croner 10's CronPattern parser for the options above, writing into the compact table. */
class PatternParser {
  private readonly t: Uint8Array;

  constructor(private readonly p: QuartzPattern) {
    this.t = p.table;
  }

  parse(): void {
    const pattern = this.p.pattern;
    const e = pattern.match(/\S+/g) ?? [''];
    if (e.length !== 7)
      throw new TypeError(
        `CronPattern: mode '7-part' requires exactly 7 parts, but pattern '${pattern}' has ${e.length} parts.`,
      );
    if (e[3].toUpperCase() === 'LW') {
      this.p.lastWeekday = true;
      e[3] = '';
    } else if (e[3].toUpperCase().includes('L')) {
      e[3] = e[3].replace(/L/gi, '');
      this.p.lastDayOfMonth = true;
    }
    if (e[6] !== '*') throw new TypeError('CronPattern: only year "*" is supported');
    if (e[4].length >= 3) e[4] = replaceAlphaMonths(e[4]);
    if (e[5].length >= 3) e[5] = replaceAlphaDaysQuartz(e[5]);
    if (e[5].startsWith('+')) {
      // croner's "+" (AND) modifier: the same as Quartz's AND here
      e[5] = e[5].substring(1);
      if (e[5] === '')
        throw new TypeError("CronPattern: Day-of-week field cannot be empty after '+' modifier.");
    }
    if (e[5] === '*') this.p.starDOW = true;
    if (pattern.includes('?')) for (let i = 0; i < 7; i++) e[i] = e[i].replace(/\?/g, '*');
    throwAtIllegalCharacters(e);
    this.partToArray('second', e[0], 0, 1);
    this.partToArray('minute', e[1], 0, 1);
    this.partToArray('hour', e[2], 0, 1);
    this.partToArray('day', e[3], -1, 1);
    this.partToArray('month', e[4], -1, 1);
    this.partToArray('dayOfWeek', e[5], -1, 63);
    for (let i = 0; i < 31; i++) if (this.t[NEAREST + i]) this.p.nearest.push(i + 1);
  }

  private partToArray(part: Part, value: string, offset: number, fill: number): void {
    const lastDay = part === 'day' && this.p.lastDayOfMonth;
    const lastWeekday = part === 'day' && this.p.lastWeekday;
    if (value === '' && !lastDay && !lastWeekday)
      throw new TypeError(
        `CronPattern: configuration entry ${part} (${value}) is empty, check for trailing spaces.`,
      );
    if (value === '*') {
      this.t.fill(fill, OFFSET[part], OFFSET[part] + LENGTH[part]);
      return;
    }
    const list = value.split(',');
    if (list.length > 1) for (const v of list) this.partToArray(part, v, offset, fill);
    else if (value.includes('-') && value.includes('/'))
      this.handleRangeWithStepping(value, part, offset, fill);
    else if (value.includes('-')) this.handleRange(value, part, offset, fill);
    else if (value.includes('/')) this.handleStepping(value, part, offset, fill);
    else if (value !== '') this.handleNumber(value, part, offset, fill);
  }

  private handleNumber(value: string, part: Part, offset: number, fill: number): void {
    const [num, nth] = extractNth(value, part);
    const nearest = value.toUpperCase().includes('W');
    if (part !== 'day' && nearest)
      throw new TypeError('CronPattern: Nearest weekday modifier (W) only allowed in day-of-month.');
    const target: Part = nearest ? 'nearestWeekdays' : part;
    const v = parseInt(num, 10) + offset;
    if (isNaN(v)) throw new TypeError(`CronPattern: ${target} is not a number: '${value}'`);
    this.setPart(target, v, nth || fill);
  }

  private setPart(part: Part, value: number, mark: string | number): void {
    if (part === 'dayOfWeek') {
      if (value === 7) value = 0;
      if (value < 0 || value > 6) throw new RangeError(`CronPattern: Invalid value for dayOfWeek: ${value}`);
      this.setNthWeekdayOfMonth(value, mark);
      return;
    }
    if (value < 0 || value >= LENGTH[part])
      throw new RangeError(`CronPattern: Invalid value for ${part}: ${value}`);
    this.t[OFFSET[part] + value] = 1;
  }

  private setNthWeekdayOfMonth(day: number, mark: string | number): void {
    const i = DOW + day;
    if (typeof mark !== 'number' && mark.toUpperCase() === 'L') this.t[i] |= 32;
    else if (mark === 63) this.t[i] = 63;
    else if (Number(mark) < 6 && Number(mark) > 0) this.t[i] |= NTH[Number(mark) - 1];
    else
      throw new TypeError(
        `CronPattern: nth weekday out of range, should be 1-5 or L. Value: ${mark}, Type: ${typeof mark}`,
      );
  }

  private validateRange(lower: number, upper: number, step: number | undefined, part: Part, value: string) {
    if (lower > upper) throw new TypeError(`CronPattern: From value is larger than to value: '${value}'`);
    if (step !== undefined) {
      if (step === 0) throw new TypeError('CronPattern: Syntax error, illegal stepping: 0');
      if (step > LENGTH[part])
        throw new TypeError(
          `CronPattern: Syntax error, steps cannot be greater than maximum value of part (${LENGTH[part]})`,
        );
    }
  }

  private handleRangeWithStepping(value: string, part: Part, offset: number, fill: number): void {
    if (value.toUpperCase().includes('W'))
      throw new TypeError('CronPattern: Syntax error, W is not allowed in ranges with stepping.');
    const [body, nth] = extractNth(value, part);
    const m = /^(\d+)-(\d+)\/(\d+)$/.exec(body);
    if (m === null) throw new TypeError(`CronPattern: Syntax error, illegal range with stepping: '${value}'`);
    const lower = parseInt(m[1], 10) + offset;
    const upper = parseInt(m[2], 10) + offset;
    const step = parseInt(m[3], 10);
    this.validateRange(lower, upper, step, part, value);
    for (let v = lower; v <= upper; v += step) this.setPart(part, v, nth || fill);
  }

  private handleRange(value: string, part: Part, offset: number, fill: number): void {
    if (value.toUpperCase().includes('W'))
      throw new TypeError('CronPattern: Syntax error, W is not allowed in a range.');
    const [body, nth] = extractNth(value, part);
    const bounds = body.split('-');
    if (bounds.length !== 2) throw new TypeError(`CronPattern: Syntax error, illegal range: '${value}'`);
    const lower = parseInt(bounds[0], 10) + offset;
    const upper = parseInt(bounds[1], 10) + offset;
    if (isNaN(lower)) throw new TypeError('CronPattern: Syntax error, illegal lower range (NaN)');
    if (isNaN(upper)) throw new TypeError('CronPattern: Syntax error, illegal upper range (NaN)');
    this.validateRange(lower, upper, undefined, part, value);
    for (let v = lower; v <= upper; v++) this.setPart(part, v, nth || fill);
  }

  private handleStepping(value: string, part: Part, offset: number, fill: number): void {
    if (value.toUpperCase().includes('W'))
      throw new TypeError('CronPattern: Syntax error, W is not allowed in parts with stepping.');
    const [body, nth] = extractNth(value, part);
    const a = body.split('/');
    if (a.length !== 2) throw new TypeError(`CronPattern: Syntax error, illegal stepping: '${value}'`);
    if (a[0] === '') a[0] = '*'; // sloppy ranges: `/5` is `*/5`
    const start = a[0] !== '*' ? parseInt(a[0], 10) + offset : 0;
    const step = parseInt(a[1], 10);
    if (isNaN(step)) throw new TypeError('CronPattern: Syntax error, illegal stepping: (NaN)');
    this.validateRange(0, LENGTH[part] - 1, step, part, value);
    // a non-numeric start (NaN) sets nothing, as in croner
    for (let v = start; v < LENGTH[part]; v += step) this.setPart(part, v, nth || fill);
  }
}

function extractNth(value: string, part: Part): [string, string | undefined] {
  if (value.includes('#')) {
    if (part !== 'dayOfWeek') throw new Error('CronPattern: nth (#) only allowed in day-of-week field');
    const pieces = value.split('#');
    return [pieces[0], pieces[1]];
  }
  if (value.toUpperCase().endsWith('L')) {
    if (part !== 'dayOfWeek')
      throw new Error(
        'CronPattern: L modifier only allowed in day-of-week field (use L alone for day-of-month)',
      );
    return [value.slice(0, -1), 'L'];
  }
  return [value, undefined];
}

function throwAtIllegalCharacters(e: string[]): void {
  for (let i = 0; i < e.length; i++) {
    const illegal = i === 3 ? /[^/*0-9,\-WwLl]+/ : i === 5 ? /[^/*0-9,\-#Ll]+/ : /[^/*0-9,-]+/;
    if (illegal.test(e[i]))
      throw new TypeError(`CronPattern: configuration entry ${i} (${e[i]}) contains illegal characters.`);
  }
}

function replaceAlphaDaysQuartz(v: string): string {
  return v
    .replace(/sun/gi, '1')
    .replace(/mon/gi, '2')
    .replace(/tue/gi, '3')
    .replace(/wed/gi, '4')
    .replace(/thu/gi, '5')
    .replace(/fri/gi, '6')
    .replace(/sat/gi, '7');
}

function replaceAlphaMonths(v: string): string {
  return v
    .replace(/jan/gi, '1')
    .replace(/feb/gi, '2')
    .replace(/mar/gi, '3')
    .replace(/apr/gi, '4')
    .replace(/may/gi, '5')
    .replace(/jun/gi, '6')
    .replace(/jul/gi, '7')
    .replace(/aug/gi, '8')
    .replace(/sep/gi, '9')
    .replace(/oct/gi, '10')
    .replace(/nov/gi, '11')
    .replace(/dec/gi, '12');
}

/**
 * Wall clock ↔ instant in one IANA zone (or UTC). Named zones go through one cached Intl formatter; turning a
 * wall time into an instant follows croner's fromTZ: an ambiguous time (autumn) is its earlier instant, a time
 * in a spring-forward gap is shifted forward by the gap.
 */
export class ZoneClock {
  private static readonly zones = new Map<string, ZoneClock>();
  private readonly format: Intl.DateTimeFormat | null;

  private constructor(readonly timeZone: string) {
    this.format =
      timeZone === 'UTC' || timeZone === 'Etc/UTC'
        ? null
        : new Intl.DateTimeFormat('en-US', {
            timeZone,
            year: 'numeric',
            month: 'numeric',
            day: 'numeric',
            hour: 'numeric',
            minute: 'numeric',
            second: 'numeric',
            hour12: false,
          });
  }

  static of(timeZone: string): ZoneClock {
    let z = ZoneClock.zones.get(timeZone);
    if (!z) {
      z = new ZoneClock(timeZone);
      ZoneClock.zones.set(timeZone, z);
    }
    return z;
  }

  /** The wall time (whole seconds) at an instant. */
  wall(epochMs: number): WallTime {
    const date = new Date(epochMs);
    if (!this.format)
      return {
        y: date.getUTCFullYear(),
        mo: date.getUTCMonth(),
        d: date.getUTCDate(),
        h: date.getUTCHours(),
        mi: date.getUTCMinutes(),
        s: date.getUTCSeconds(),
      };
    const w: WallTime = { y: 0, mo: 0, d: 0, h: 0, mi: 0, s: 0 };
    for (const part of this.format.formatToParts(date)) {
      switch (part.type) {
        case 'year':
          w.y = parseInt(part.value, 10);
          break;
        case 'month':
          w.mo = parseInt(part.value, 10) - 1;
          break;
        case 'day':
          w.d = parseInt(part.value, 10);
          break;
        case 'hour':
          w.h = parseInt(part.value, 10) % 24;
          break;
        case 'minute':
          w.mi = parseInt(part.value, 10);
          break;
        case 'second':
          w.s = parseInt(part.value, 10);
          break;
        default:
      }
    }
    return w;
  }

  /** The instant of a wall time (croner's fromTZ without throwing on a gap). */
  instant(w: WallTime): number {
    const target = asUtc(w);
    if (!this.format) return target;
    const offset = target - asUtc(this.wall(target));
    const o = target + offset;
    const h = this.wall(o);
    if (sameWall(h, w)) {
      const earlier = o - 3_600_000;
      return sameWall(this.wall(earlier), w) ? earlier : o;
    }
    const l = o + target - asUtc(h);
    if (sameWall(this.wall(l), w)) return l;
    return Math.max(o, l);
  }
}

/** A wall time's fields read as UTC: its position on a zone-free time line (also normalizes overflow). */
export function asUtc(w: WallTime): number {
  return Date.UTC(w.y, w.mo, w.d, w.h, w.mi, w.s);
}

function sameWall(a: WallTime, b: WallTime): boolean {
  return a.y === b.y && a.mo === b.mo && a.d === b.d && a.h === b.h && a.mi === b.mi && a.s === b.s;
}

/** Wall time `seconds` later on the zone-free time line (normalized, e.g. 23:59:59 + 1 s is the next day). */
export function addSeconds(w: WallTime, seconds: number): WallTime {
  const d = new Date(asUtc(w) + seconds * 1000);
  return {
    y: d.getUTCFullYear(),
    mo: d.getUTCMonth(),
    d: d.getUTCDate(),
    h: d.getUTCHours(),
    mi: d.getUTCMinutes(),
    s: d.getUTCSeconds(),
  };
}
