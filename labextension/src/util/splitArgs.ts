/**
 * Program arguments typed in one text field.
 */

/**
 * Split an argument string the way a shell would for plain words and quotes:
 * `a "b c" 'd'` → `["a", "b c", "d"]`; null when a quote is not closed.
 */
export function splitArgs(text: string): string[] | null {
  const args: string[] = [];
  let current = '';
  let inWord = false;
  let quote: string | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quote) {
      if (ch === quote) {
        quote = null;
      } else if (ch === '\\' && quote === '"' && (text[i + 1] === '"' || text[i + 1] === '\\')) {
        current += text[++i];
      } else {
        current += ch;
      }
    } else if (ch === '"' || ch === "'") {
      quote = ch;
      inWord = true;
    } else if (ch === '\\' && i + 1 < text.length) {
      current += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) {
        args.push(current);
        current = '';
        inWord = false;
      }
    } else {
      current += ch;
      inWord = true;
    }
  }
  if (quote) {
    return null;
  }
  if (inWord) {
    args.push(current);
  }
  return args;
}
