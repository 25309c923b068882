/*
 * A Quartz cron expression in plain English, for the console's schedule editor. The expression is validated
 * first by libs/cron; this only words it ("At 02:30:00, on Monday to Friday").
 */

const MONTHS = [
  'January',
  'February',
  'March',
  'April',
  'May',
  'June',
  'July',
  'August',
  'September',
  'October',
  'November',
  'December',
];
// Quartz numbers days of the week 1 (Sunday) to 7 (Saturday)
const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTH_NAMES = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const ORDINALS = ['', 'first', 'second', 'third', 'fourth', 'fifth'];

const plural = (n: number, unit: string) => (n === 1 ? `every ${unit}` : `every ${n} ${unit}s`);
const two = (n: number) => String(n).padStart(2, '0');
const isNumber = (s: string) => /^\d+$/.test(s);

function listWords(items: string[]): string {
  return items.length <= 1
    ? items.join('')
    : `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

/** One numeric field (seconds, minutes, hours, day of month). */
function numericField(field: string, unit: string, name = (n: string) => n): string {
  if (field === '*' || field === '?') return `every ${unit}`;
  const parts = field.split(',').map((part) => {
    const step = /^(\*|\d+)(?:-(\d+))?\/(\d+)$/.exec(part);
    if (step) {
      const [, start, end, every] = step;
      const from = start === '*' ? '' : ` starting at ${unit} ${name(start)}`;
      const to = end ? ` through ${unit} ${name(end)}` : '';
      return `${plural(Number(every), unit)}${from}${to}`;
    }
    const range = /^(\d+)-(\d+)$/.exec(part);
    if (range) return `${unit}s ${name(range[1])} through ${name(range[2])}`;
    return `${unit} ${name(part)}`;
  });
  return parts.length === 1 && !parts[0].startsWith('every') ? `at ${parts[0]}` : listWords(parts);
}

function nameOf(token: string, names: string[], words: string[], base: number): string {
  const upper = token.toUpperCase();
  const i = names.indexOf(upper);
  if (i >= 0) return words[i];
  return isNumber(token) ? (words[Number(token) - base] ?? token) : token;
}

function monthField(field: string): string | null {
  if (field === '*' || field === '?') return null;
  const month = (t: string) => nameOf(t, MONTH_NAMES, MONTHS, 1);
  const parts = field.split(',').map((part) => {
    const step = /^(\*|\w+)\/(\d+)$/.exec(part);
    if (step) return `every ${step[2]} months${step[1] === '*' ? '' : ` starting in ${month(step[1])}`}`;
    const range = /^(\w+)-(\w+)$/.exec(part);
    return range ? `${month(range[1])} through ${month(range[2])}` : month(part);
  });
  return `in ${listWords(parts)}`;
}

function dayOfWeekField(field: string): string | null {
  if (field === '*' || field === '?') return null;
  const day = (t: string) => nameOf(t, DAY_NAMES, DAYS, 1);
  const parts = field.split(',').map((part) => {
    const nth = /^(\w+)#(\d)$/.exec(part);
    if (nth) return `the ${ORDINALS[Number(nth[2])] ?? `${nth[2]}th`} ${day(nth[1])} of the month`;
    const last = /^(\w+)L$/.exec(part);
    if (last) return `the last ${day(last[1])} of the month`;
    const range = /^(\w+)-(\w+)$/.exec(part);
    return range ? `${day(range[1])} to ${day(range[2])}` : day(part);
  });
  return `on ${listWords(parts)}`;
}

function dayOfMonthField(field: string): string | null {
  if (field === '*' || field === '?') return null;
  if (field === 'L') return 'on the last day of the month';
  const lastOffset = /^L-(\d+)$/.exec(field);
  if (lastOffset) return `${lastOffset[1]} days before the last day of the month`;
  if (field === 'LW') return 'on the last weekday of the month';
  const weekday = /^(\d+)W$/.exec(field);
  if (weekday) return `on the weekday nearest day ${weekday[1]} of the month`;
  const text = numericField(field, 'day');
  if (text.startsWith('at ')) return `on ${text.slice(3)} of the month`;
  return text.startsWith('every ') ? `${text} of the month` : `on ${text} of the month`;
}

/** Words for a valid 6- or 7-field Quartz expression (seconds minutes hours day-of-month month day-of-week [year]). */
export function describeQuartz(expression: string): string {
  const f = expression.trim().split(/\s+/);
  if (f.length < 6) return expression;
  const [sec, min, hour, dom, month, dow] = f;
  const pieces: string[] = [];
  if (isNumber(sec) && isNumber(min) && isNumber(hour)) {
    pieces.push(`At ${two(Number(hour))}:${two(Number(min))}:${two(Number(sec))}`);
  } else {
    const time: string[] = [];
    if (sec !== '0') time.push(numericField(sec, 'second'));
    time.push(numericField(min, 'minute'));
    if (!(hour === '*' && time.some((t) => t.startsWith('every ')))) time.push(numericField(hour, 'hour'));
    else if (hour === '*' && !isNumber(min)) {
      // "every 5 minutes" already implies every hour
    } else time.push('every hour');
    const first = time.join(', ');
    pieces.push(first.charAt(0).toUpperCase() + first.slice(1));
  }
  const days = [dayOfMonthField(dom), dayOfWeekField(dow)].filter((x): x is string => x !== null);
  pieces.push(...(days.length ? days : ['every day']));
  const m = monthField(month);
  if (m) pieces.push(m);
  return pieces.join(', ');
}
