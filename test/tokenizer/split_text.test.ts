// splitText (Tortoise's split_and_recombine_text): small cases whose chunks are worked out by hand, step by
// step through the Python loop (pos, current, split_pos, in_quote), and properties on a longer text of our own.
import { splitText } from '../../src/tokenizer/split_text';

const split = (text: string, desiredLength: number, maxLength: number) => splitText(text, { desiredLength, maxLength });

describe('splitText: hand-worked cases', () => {
  test('empty and blank text give no chunk; text under the desired length is one chunk', () => {
    expect(splitText('')).toEqual([]);
    // whitespace folds to one ' ', which strip() empties and the filter drops
    expect(splitText('  \n\t ')).toEqual([]);
    // split_pos collects both sentence ends, but the chunk never reaches 200 characters, so nothing commits early
    expect(splitText('Hello there.  How are you?')).toEqual(['Hello there. How are you?']);
    // no sentence end and under the max: the loop never commits and the tail is the one chunk
    expect(split('no full stop here at all', 5, 30)).toEqual(['no full stop here at all']);
  });

  test('whitespace is Python\'s: NEL and \\x1c count, U+FEFF does not; blank lines become one space', () => {
    expect(splitText('a\x85b\x1cc\ufeffd')).toEqual(['a b c\ufeffd']);
    expect(splitText('Line one.\n\n\nLine\ttwo.\u00a0End')).toEqual(['Line one. Line two. End']);
  });

  test('sentence ends once past the desired length', () => {
    // "One two. Three four! Five?" (26 chars), desired 5:
    //   pos 7 '.', next ' ' → split point; current "One two." (8) >= 5 → commit
    //   pos 19 '!' → split point; current " Three four!" (12) → commit
    //   pos 25 '?' → split point; current " Five?" (6) → commit; the final empty chunk is dropped
    expect(split('One two. Three four! Five?', 5, 30)).toEqual(['One two.', 'Three four!', 'Five?']);
  });

  test('runs of marks stay with their sentence; an ellipsis is one end', () => {
    // "Wait?! Really... Yes.", desired 1:
    //   pos 4 '?' is an end; peek(1) '!' is a mark so seek on to pos 5 → commit "Wait?!"
    //   pos 13 and 14 '.' are followed by '.', not ' ', so only pos 15 ends the sentence → commit " Really..."
    //   pos 20 '.' is the last character (peek gives '') → commit " Yes."
    expect(split('Wait?! Really... Yes.', 1, 50)).toEqual(['Wait?!', 'Really...', 'Yes.']);
  });

  test('chunks of only punctuation are dropped', () => {
    // "Hi. ... !!", desired 1: commits "Hi.", then " ..." (end at pos 6, followed by ' '), then " !!" (at pos 8
    // '!', peek(1) is '' because it is the last index, and '' is in '!?.', so it swallows pos 9) → "..." and "!!" go
    expect(split('Hi. ... !!', 1, 50)).toEqual(['Hi.']);
  });

  test('a sentence end inside a quote does not split; the closing quote is a split point that does not commit', () => {
    // 'He said "Stop. Go." Then left.', desired 5: pos 8 opens the quote, so the '.' at 13 is ignored; at pos 17
    // peek(1) is '"' and peek(2) ' ' → seek(2) closes the quote, split_pos [19], no commit; pos 29 '.' commits all.
    expect(split('He said "Stop. Go." Then left.', 5, 100)).toEqual(['He said "Stop. Go." Then left.']);
    // Curly quotes are straightened first: '"Hi," she said. "Bye."', desired 1. The closing quote after "Hi,"
    // is a split point (pos 5), the '.' at 14 commits '"Hi," she said.'; "Bye." is inside the second quote
    // and its '.' (pos 20) is not an end, so the tail '"Bye."' is the last chunk.
    expect(split('\u201cHi,\u201d she said. \u201cBye.\u201d', 1, 100)).toEqual(['"Hi," she said.', '"Bye."']);
  });

  test('at the max length: back to the last sentence end, else back to a space', () => {
    // "Ab cd. Ef gh ij kl", desired 8, max 12: split_pos [5] after "Ab cd."; at pos 11 current has 12 chars and
    // 12 > 8/2, so seek(-6) back to pos 5 → commit "Ab cd.". From pos 6 the chunk " Ef gh ij kl" reaches 12 at
    // pos 17 with no split point: step back while the last char is not a space and the length > 8 → pos 15 ' '
    // → commit " Ef gh ij "; the tail "kl" is left.
    expect(split('Ab cd. Ef gh ij kl', 8, 12)).toEqual(['Ab cd.', 'Ef gh ij', 'kl']);
    // No space at all: the step back stops at the desired length, splitting the word.
    expect(split('abcdefghij', 3, 4)).toEqual(['abc', 'def', 'ghi', 'j']);
  });

  test('a forced cut can fall inside a quote; the closing quote then serves as the split point', () => {
    // 'Say "aa bb cc dd" now.', desired 6, max 10: pos 4 opens the quote; at pos 9 (10 chars, no split point)
    // step back to pos 7 ' ' → commit 'Say "aa '. Then "bb cc dd" + closing quote: at pos 15 peek(1) '"',
    // peek(2) ' ' → seek(2) to pos 17, split_pos [17], current 'bb cc dd" ' (10). Pos 18 makes 11 >= 10 with a
    // split point → seek(-1) to 17 → commit. "now." is the tail (4 < 6, never committed early).
    expect(split('Say "aa bb cc dd" now.', 6, 10)).toEqual(['Say "aa', 'bb cc dd"', 'now.']);
  });

  test('stepping back toggles the quote state on the character landed on, as the Python does', () => {
    // 'mn." mn."', desired 2, max 4: pos 3 '"' opens a quote and makes 4 chars → step back to pos 2; the toggle
    // looks at t[2] = '.', so the quote stays open. Re-reading pos 3 '"' closes it. ' "' + 'mn' reaches 4 at pos 6
    // → back to pos 4 ' ' → commit '" ' (stripped to '"'). Now outside a quote, pos 7 '.' is an end (peek gives ''
    // at the last index) and the mark run swallows the final '"' → 'mn."'. Toggling the character left instead
    // would end with ['mn.', '"', 'mn.', '"'].
    expect(split('mn." mn."', 2, 4)).toEqual(['mn.', '"', 'mn."']);
  });

  test('the quote-end step can overrun the max length by one at the very end of the text (as in Python)', () => {
    // '"abcd"e', desired = max = 6: inside the quote nothing splits; at pos 4 (5 chars) peek(1) is '"' and peek(2)
    // is '' (index 6 is the last), so seek(2) takes '"' and 'e' → 7 chars, and the loop ends there.
    expect(split('"abcd"e', 6, 6)).toEqual(['"abcd"e']);
  });

  test('lengths are counted in code points, as Python counts str', () => {
    // five 1-code-point (2 UTF-16 unit) emoji, desired 2, max 3: cut at 3 and step back to 2 each time
    expect(split('😀😀😀😀😀', 2, 3)).toEqual(['😀😀', '😀😀', '😀']);
  });

  test('options are validated', () => {
    for (const bad of [0, -1, 1.5, NaN, Infinity]) {
      expect(() => splitText('x', { desiredLength: bad, maxLength: 300 })).toThrow(new RangeError(`splitText: desiredLength must be a positive integer, got ${bad}`));
      expect(() => splitText('x', { desiredLength: 1, maxLength: bad })).toThrow(new RangeError(`splitText: maxLength must be a positive integer, got ${bad}`));
    }
    expect(() => splitText('x', { desiredLength: '200' as unknown as number })).toThrow(/desiredLength must be a positive integer, got "200"/);
    expect(() => splitText('x', { desiredLength: 50, maxLength: 40 })).toThrow(new RangeError('splitText: desiredLength (50) must not exceed maxLength (40)'));
    // the default desired length (200) is checked against a smaller max too
    expect(() => splitText('x', { maxLength: 100 })).toThrow(/desiredLength \(200\) must not exceed maxLength \(100\)/);
    expect(split('x', 1, 1)).toEqual(['x']);
  });
});

// Our own text: paragraphs, quotations with sentences inside them, and sentences both shorter and longer than
// the lengths below (the fourth paragraph's sentence is over 300 characters).
const STORY = `The lighthouse keeper kept a ledger of every ship that passed the point, and by the third winter the ledger had grown so thick that its spine cracked whenever he opened it to a fresh page, which he did each evening after trimming the wick and wiping the salt from the great lens.

His niece arrived in March with a suitcase and a question. "Why do you write them all down?" she asked on her first night, watching him copy a name in careful capitals. He thought about it for a long while. "Because someone should remember that they were here. The sea certainly won't."

She was not satisfied with that answer, and she said so. Over the following weeks she counted the entries, sorted them by month, and drew a chart on the back of a tide table that showed the traffic falling year after year; fewer freighters, fewer trawlers, and in the last autumn only a handful of yachts whose owners waved from the deck as if the tower were a friend.

"It's ending," she told him one morning. "Nobody comes this way any more!"

He did not argue. Instead he handed her the pen, pointed at the window where a small grey boat was rounding the rocks, and waited until she had written its name, its heading, and the time, exactly as he would have done it himself.

In the spring the lamp was automated, as the letters from the harbour board had promised for years. Engineers came with crates of cables and a box that blinked, and within a week the light turned itself on at dusk without anyone climbing the stairs. The keeper packed his things slowly. He left the ledger on the desk, open at the last page, where his niece had added a line in her own hand: "Still here. Still counting."

Years later a student researching coastal history found the book in an archive, and she spent an entire afternoon reading it, page after page, name after name, until the reading room closed and a librarian asked her, quite kindly, whether she intended to stay the night.
`;
const NORMALISED = STORY.replace(/\s+/g, ' ').trim();

/**
 * Whether a chunk has a place the splitter could have cut at before its end: a sentence end outside a quote
 * ('!' or '?', or '.' before a space) or a closing quote before a space. `open` is the quote state at its start.
 */
function innerSplitPoint(chunk: string, open: boolean): boolean {
  for (let i = 0; i < chunk.length - 1; i++) {
    const c = chunk[i];
    if (c === '"') {
      open = !open;
      if (!open && chunk[i + 1] === ' ') return true;
    } else if (!open && (c === '!' || c === '?' || (c === '.' && chunk[i + 1] === ' '))) {
      return true;
    }
  }
  return false;
}

describe.each([
  [200, 300],
  [80, 120],
  [40, 60],
])('splitText properties on a 2,000-character text (desired %i, max %i)', (desired, max) => {
  const chunks = split(STORY, desired, max);

  test('the text is long enough to be split', () => {
    expect(NORMALISED.length).toBeGreaterThan(1900);
    expect(chunks.length).toBeGreaterThan(NORMALISED.length / max);
  });

  test('every chunk is trimmed, non-empty and at most maxLength', () => {
    for (const c of chunks) {
      expect(c).toBe(c.trim());
      expect(c.length).toBeGreaterThan(0);
      expect(c.length).toBeLessThanOrEqual(max);
    }
  });

  test('all words survive, in order, and no word is cut', () => {
    expect(chunks.join(' ').split(' ')).toEqual(NORMALISED.split(' '));
  });

  test('chunks end at a sentence end or closing quote, except a cut at the max length through a passage with none', () => {
    let open = false;
    chunks.forEach((c, i) => {
      if (i < chunks.length - 1 && !/[.!?"]$/.test(c)) expect({ chunk: c, splitPointInside: innerSplitPoint(c, open) }).toEqual({ chunk: c, splitPointInside: false });
      open = (c.split('"').length - 1) % 2 === 1 ? !open : open;
    });
  });

  test('short sentences are recombined: a chunk is below the desired length only when adding the next overflowed', () => {
    // A commit at a sentence end needs `desired` characters counting the leading space strip() removes (hence
    // desired - 1); a cut back to an earlier sentence end happens only once the run reached max characters, and
    // the next chunk holds the rest of that run (less up to two stripped spaces and the one joining space).
    for (let i = 0; i < chunks.length - 1; i++) {
      if (chunks[i].length < desired - 1) expect(chunks[i].length + 1 + chunks[i + 1].length).toBeGreaterThanOrEqual(max - 2);
    }
  });
});

test('with room to spare, every quotation stays whole, sentence ends inside it included', () => {
  // maxLength 1000 never forces a cut here and desired 1 commits at every sentence end outside a quote.
  const chunks = split(STORY, 1, 1000);
  const quotes = NORMALISED.match(/"[^"]*"/g)!;
  expect(quotes).toHaveLength(5);
  for (const q of quotes) expect(chunks.filter((c) => c.includes(q))).toHaveLength(1);
  for (const c of chunks) expect((c.split('"').length - 1) % 2).toBe(0);
  // A closing quote is only a split point, so the sentence after it joins the quote's chunk.
  expect(chunks).toContain('"Because someone should remember that they were here. The sea certainly won\'t." She was not satisfied with that answer, and she said so.');
  // Outside quotes each sentence is its own chunk.
  expect(chunks).toContain('His niece arrived in March with a suitcase and a question.');
  expect(chunks).toContain('The keeper packed his things slowly.');
  expect(chunks.join(' ')).toBe(NORMALISED);
});
