// Unit tests of the EnglishNormalizer rules (transformers models/clvp/number_normalizer.py).
import { ABBREVIATIONS, EnglishNormalizer } from '../../src/tokenizer/english_normalizer';
import { expandDollars, expandNumber, expandOrdinal, normalizeNumbers, normalizeNumbersUnsegmented, numberToWords } from '../../src/tokenizer/number_normalizer';

const norm = new EnglishNormalizer();

describe('numberToWords', () => {
  it.each<[number | bigint, string]>([
    [0, 'zero'],
    [7, 'seven'],
    [13, 'thirteen'],
    [40, 'forty'],
    [99, 'ninety-nine'],
    [100, 'one hundred'],
    [101, 'one hundred one'],
    [1000, 'one thousand'],
    [1234, 'one thousand, two hundred thirty-four'],
    [1_000_000, 'one million'],
    [12_345_678_901_234, 'twelve trillion, three hundred forty-five billion, six hundred seventy-eight million, nine hundred one thousand, two hundred thirty-four'],
    [-5, 'minus five'],
  ])('%s -> %s', (n, words) => {
    expect(numberToWords(n)).toBe(words);
  });

  it('is exact beyond 2^53 and stops at 10^18 like the reference', async () => {
    expect(numberToWords(9007199254740993n)).toBe(
      'nine quadrillion, seven trillion, one hundred ninety-nine billion, two hundred fifty-four million, seven hundred forty thousand, nine hundred ninety-three',
    );
    expect(numberToWords(999_999_999_999_999_999n)).toBe(
      'nine hundred ninety-nine quadrillion, nine hundred ninety-nine trillion, nine hundred ninety-nine billion, nine hundred ninety-nine million, nine hundred ninety-nine thousand, nine hundred ninety-nine',
    );
    expect(numberToWords(10n ** 18n)).toBe('number out of range');
    expect(() => numberToWords(2 ** 60)).toThrow(/not a safe integer/);
  });
});

describe('number rules', () => {
  it('removes commas inside numbers', async () => {
    expect(normalizeNumbers('1,000,000 and 7,500')).toBe('one million and seven thousand, five hundred');
    expect(normalizeNumbers('1,2')).toBe('twelve');
  });

  it('reads £ amounts when called directly, but the full normaliser drops £ first', async () => {
    expect(normalizeNumbers('£100')).toBe('one hundred pounds');
    expect(norm.normalize('£100')).toBe('one hundred');
  });

  it('expands dollars and cents with singular units', async () => {
    expect(expandDollars('5')).toBe('5 dollars');
    expect(expandDollars('1')).toBe('1 dollar');
    expect(expandDollars('1.01')).toBe('1 dollar, 1 cent');
    expect(expandDollars('0.99')).toBe('99 cents');
    expect(expandDollars('.75')).toBe('75 cents');
    expect(expandDollars('0.00')).toBe('zero dollars');
    expect(expandDollars('1.2.3')).toBe('1.2.3 dollars');
    expect(norm.normalize('$5.50')).toBe('five dollars, fifty cents');
    // Cents are read as an integer, so '.5' is five cents.
    expect(norm.normalize('$5.5')).toBe('five dollars, five cents');
    expect(norm.normalize('$1,234.56')).toBe('one thousand, two hundred thirty-four dollars, fifty-six cents');
    expect(norm.normalize('$1.2.3')).toBe('one point two.three dollars');
  });

  it('fails where Python int() fails', async () => {
    expect(() => norm.normalize('$,5')).toThrow("invalid literal for int() with base 10: ',5'");
    expect(() => norm.normalize('$5,.5')).toThrow("invalid literal for int() with base 10: '5,'");
  });

  it('reads decimals with "point"', async () => {
    expect(normalizeNumbers('3.14')).toBe('three point fourteen');
    expect(norm.normalize('version 2.0.1')).toBe('version two point zero.one');
  });

  it('keeps the ordinal suffix, recomputed from the number', async () => {
    expect(expandOrdinal('1st')).toBe('onest');
    expect(expandOrdinal('2nd')).toBe('twond');
    expect(expandOrdinal('3rd')).toBe('threerd');
    expect(expandOrdinal('4th')).toBe('fourth');
    expect(expandOrdinal('11th')).toBe('eleventh');
    expect(expandOrdinal('12th')).toBe('twelveth');
    expect(expandOrdinal('20th')).toBe('twentyth');
    expect(expandOrdinal('21st')).toBe('twenty-onest');
    expect(expandOrdinal('111th')).toBe('one hundred eleventh');
    expect(expandOrdinal('3th')).toBe('threerd');
  });

  it('reads 1001..2999 as years', async () => {
    expect(expandNumber('1000')).toBe('one thousand');
    expect(expandNumber('1001')).toBe('one thousand, one');
    expect(expandNumber('1066')).toBe('one thousand, sixty-six');
    expect(expandNumber('1900')).toBe('nineteen hundred');
    expect(expandNumber('1999')).toBe('one thousand, nine hundred ninety-nine');
    expect(expandNumber('2000')).toBe('two thousand');
    expect(expandNumber('2005')).toBe('two thousand five');
    expect(expandNumber('2010')).toBe('two thousand, ten');
    expect(expandNumber('2100')).toBe('twenty-one hundred');
    expect(expandNumber('3000')).toBe('three thousand');
    expect(expandNumber('007')).toBe('seven');
  });

  it('handles numbers past 2^53 and out of range', async () => {
    expect(norm.normalize('9007199254740993')).toBe(numberToWords(9007199254740993n));
    expect(norm.normalize('12345678901234567890 items')).toBe('number out of range items');
  });

  it('gives the same result run per whitespace-delimited run as over the whole text', async () => {
    const pieces = ['1', '23', '2000', '1900', ',', '.', '$', 'st', 'nd', 'rd', 'th', ' ', '\t', 'a', 'x', '1,000', '3.5', '\x1c'];
    let seed = 11;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = 1 + Math.floor(next() * 10);
      for (let j = 0; j < n; j++) text += pieces[Math.floor(next() * pieces.length)];
      let want: string;
      try {
        want = normalizeNumbersUnsegmented(text);
      } catch (e) {
        expect(() => normalizeNumbers(text)).toThrow((e as Error).message);
        continue;
      }
      expect([text, normalizeNumbers(text)]).toEqual([text, want]);
    }
  });

  it('leaves signs and separators in place', async () => {
    expect(norm.normalize('-7 at 9:30am')).toBe('-seven at nine:thirtyam');
    expect(norm.normalize('50%')).toBe('fifty%');
  });
});

describe('abbreviations', () => {
  it('expands the listed abbreviations with a period, case-insensitively', async () => {
    expect(norm.normalize('Mr. Smith, Mrs. Jones, Dr. Who, Drs. Who')).toBe('mister smith, misess jones, doctor who, doctors who');
    expect(norm.normalize('St. Ft. Co. Ltd. Jr. Esq. Capt. Sgt. Lt. Col. Gen. Maj. Rev. Hon.')).toBe(
      'saint fort company limited junior esquire captain sergeant lieutenant colonel general major reverend honorable',
    );
    expect(norm.normalize('DR. X')).toBe('doctor x');
  });

  it('matches the reference rule-by-rule order when abbreviations touch', async () => {
    // 'mr' runs before 'dr': after 'mr.' -> 'mister' the 'dr.' has no word boundary left.
    expect(norm.expandAbbreviations('mr.dr.')).toBe('misterdr.');
    expect(norm.expandAbbreviations('dr.mr.')).toBe('doctormister');
    expect(norm.expandAbbreviations('mr.dr.mr.')).toBe('misterdr.mister');
  });

  it('equals one regex pass per abbreviation on random abbreviation soup', async () => {
    const sequential = (text: string) => ABBREVIATIONS.reduce((t, [short, long]) => t.replace(new RegExp(`\\b${short}\\.`, 'gi'), long), text);
    const pieces = [...ABBREVIATIONS.map(([s]) => s + '.'), 'x', ' ', '.', 's', 'Dr.', 'MRS.', '1'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    for (let i = 0; i < 3000; i++) {
      let text = '';
      const n = 1 + Math.floor(next() * 8);
      for (let j = 0; j < n; j++) text += pieces[Math.floor(next() * pieces.length)];
      expect([text, norm.expandAbbreviations(text)]).toEqual([text, sequential(text)]);
    }
  });

  it('needs the period and a word boundary', async () => {
    expect(norm.normalize('mr smith')).toBe('mr smith');
    expect(norm.normalize('xdr. y')).toBe('xdr. y');
    expect(norm.normalize('1st. place')).toBe('onest. place');
    expect(norm.normalize('(dr. x)')).toBe('(doctor x)');
  });
});

describe('text clean-up', () => {
  it('drops non-ASCII characters, including non-ASCII spaces', async () => {
    expect(norm.convertToAscii('Café crème')).toBe('Caf crme');
    expect(norm.normalize('a\u00a0b')).toBe('ab');
    expect(norm.normalize('pizza 🍕!')).toBe('pizza !');
    expect(norm.normalize('Ελληνικά')).toBe('');
  });

  it('lower-cases', async () => {
    expect(norm.normalize('ThIs Is MiXeD')).toBe('this is mixed');
  });

  it('collapses whitespace with Python \\s semantics (\\x1c-\\x1f included)', async () => {
    expect(norm.normalize('a \t\n\r\v\f b')).toBe('a b');
    expect(norm.normalize('a\x1cb\x1dc\x1ed\x1fe')).toBe('a b c d e');
    expect(norm.normalize('   lead')).toBe(' lead');
    expect(norm.normalize('trail  ')).toBe('trail ');
  });

  it('removes double quotes only', async () => {
    expect(norm.normalize('"double" and \'single\'')).toBe("double and 'single'");
  });
});
