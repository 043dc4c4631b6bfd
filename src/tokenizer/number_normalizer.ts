// Follows transformers models/clvp/number_normalizer.py: EnglishNormalizer.number_to_words,
// _expand_dollars, _remove_commas, _expand_decimal_point, _expand_ordinal, _expand_number and
// normalize_numbers (itself a port of Tortoise's tortoise/utils/tokenizer.py).

const ONES = ['', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];
const TEENS = ['ten', 'eleven', 'twelve', 'thirteen', 'fourteen', 'fifteen', 'sixteen', 'seventeen', 'eighteen', 'nineteen'];
const TENS = ['', '', 'twenty', 'thirty', 'forty', 'fifty', 'sixty', 'seventy', 'eighty', 'ninety'];

/** Scales above a thousand, largest first; the reference stops below 10^18. */
const SCALES: readonly (readonly [bigint, string])[] = [
  [10n ** 15n, 'quadrillion'],
  [10n ** 12n, 'trillion'],
  [10n ** 9n, 'billion'],
  [10n ** 6n, 'million'],
  [10n ** 3n, 'thousand'],
];

/** The reference's answer for any number of 10^18 or more. */
export const NUMBER_OUT_OF_RANGE = 'number out of range';
const LIMIT = 10n ** 18n;

function wordsBelowThousand(n: number): string {
  if (n < 10) return ONES[n];
  if (n < 20) return TEENS[n - 10];
  if (n < 100) return TENS[Math.floor(n / 10)] + (n % 10 !== 0 ? '-' + ONES[n % 10] : '');
  const rest = n % 100;
  return ONES[Math.floor(n / 100)] + ' hundred' + (rest !== 0 ? ' ' + wordsBelowThousand(rest) : '');
}

/**
 * English words for an integer, as the reference spells them: 'one thousand, two hundred
 * thirty-four'. Integers are arbitrary precision in Python, so this takes a bigint (a number is
 * accepted when it is a safe integer).
 */
export function numberToWords(num: bigint | number): string {
  let n: bigint;
  if (typeof num === 'number') {
    if (!Number.isSafeInteger(num)) throw new Error(`numberToWords: ${num} is not a safe integer; pass a bigint`);
    n = BigInt(num);
  } else {
    n = num;
  }
  if (n === 0n) return 'zero';
  if (n < 0n) return 'minus ' + numberToWords(-n);
  if (n < 1000n) return wordsBelowThousand(Number(n));
  if (n >= LIMIT) return NUMBER_OUT_OF_RANGE;
  for (const [scale, name] of SCALES) {
    if (n >= scale) {
      const rest = n % scale;
      return numberToWords(n / scale) + ' ' + name + (rest !== 0n ? ', ' + numberToWords(rest) : '');
    }
  }
  throw new Error('unreachable');
}

/**
 * Python's int() on the strings these rules produce. The only characters that can reach it are
 * digits, commas and (for the dollar rule) nothing else, and a comma makes Python raise, so that
 * is reproduced as an error rather than guessed around.
 */
export function pythonInt(s: string): bigint {
  if (!/^[0-9]+$/.test(s)) throw new Error(`invalid literal for int() with base 10: '${s}'`);
  return BigInt(s);
}

/** '$5.50' -> '5 dollars, 50 cents' (still in digits; the number rule spells them later). */
export function expandDollars(amount: string): string {
  const parts = amount.split('.');
  if (parts.length > 2) return amount + ' dollars';
  const dollars = parts[0] ? pythonInt(parts[0]) : 0n;
  const cents = parts.length > 1 && parts[1] ? pythonInt(parts[1]) : 0n;
  const dollarUnit = dollars === 1n ? 'dollar' : 'dollars';
  const centUnit = cents === 1n ? 'cent' : 'cents';
  if (dollars && cents) return `${dollars} ${dollarUnit}, ${cents} ${centUnit}`;
  if (dollars) return `${dollars} ${dollarUnit}`;
  if (cents) return `${cents} ${centUnit}`;
  return 'zero dollars';
}

/**
 * '21st' -> 'twenty-onest'. The suffix is recomputed from the number and appended to the
 * cardinal words, so the reference says 'onest', 'twond', 'threerd', 'twelveth'.
 */
export function expandOrdinal(ordinal: string): string {
  const num = pythonInt(ordinal.slice(0, -2));
  const lastTwo = num % 100n;
  let suffix: string;
  if (lastTwo >= 10n && lastTwo <= 20n) suffix = 'th';
  else suffix = ({ 1: 'st', 2: 'nd', 3: 'rd' } as Record<number, string>)[Number(num % 10n)] ?? 'th';
  return numberToWords(num) + suffix;
}

/** A run of digits, with Tortoise's year-like reading of 1001..2999. */
export function expandNumber(digits: string): string {
  const num = pythonInt(digits);
  if (num > 1000n && num < 3000n) {
    if (num === 2000n) return 'two thousand';
    if (num > 2000n && num < 2010n) return 'two thousand ' + numberToWords(num % 100n);
    if (num % 100n === 0n) return numberToWords(num / 100n) + ' hundred';
  }
  return numberToWords(num);
}

const COMMA_NUMBER = /([0-9][0-9,]+[0-9])/g;
const POUNDS = /£([0-9,]*[0-9]+)/g;
const DOLLARS = /\$([0-9.,]*[0-9]+)/g;
const DECIMAL = /([0-9]+\.[0-9]+)/g;
const ORDINAL = /[0-9]+(st|nd|rd|th)/g;
const DIGITS = /[0-9]+/g;
const DIGIT = /[0-9]/g;

/** The number rules in the reference's order over the whole text; each pass sees the previous one's output. */
export function normalizeNumbersUnsegmented(text: string): string {
  text = text.replace(COMMA_NUMBER, (_m, g: string) => g.replace(/,/g, ''));
  text = text.replace(POUNDS, '$1 pounds');
  text = text.replace(DOLLARS, (_m, g: string) => expandDollars(g));
  text = text.replace(DECIMAL, (_m, g: string) => g.replace(/\./g, ' point '));
  text = text.replace(ORDINAL, (m: string) => expandOrdinal(m));
  text = text.replace(DIGITS, (m: string) => expandNumber(m));
  return text;
}

/**
 * normalize_numbers. Every match of every rule is a run of digits, ',', '.', '£', '$' and
 * ordinal letters, so it never contains a space or control character, and replacements leave
 * those characters where they were. The rules can therefore be run on each whitespace-delimited
 * run that holds a digit, with the same result as six passes over the whole text, and text
 * without digits is returned untouched.
 */
export function normalizeNumbers(text: string): string {
  DIGIT.lastIndex = 0;
  let m = DIGIT.exec(text);
  if (!m) return text;
  let out = '';
  let last = 0;
  while (m) {
    let start = m.index;
    while (start > last && text.charCodeAt(start - 1) > 0x20) start--;
    let end = m.index + 1;
    while (end < text.length && text.charCodeAt(end) > 0x20) end++;
    out += text.slice(last, start) + normalizeNumbersUnsegmented(text.slice(start, end));
    last = end;
    DIGIT.lastIndex = end;
    m = DIGIT.exec(text);
  }
  return out + text.slice(last);
}
