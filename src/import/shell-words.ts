// A command written as one string, split into words the way Compose splits `command:`
// and `entrypoint:` strings (go-shellwords): whitespace separates words, single quotes
// keep everything, double quotes keep everything but backslash escapes, a backslash
// outside quotes escapes the next character. There is no shell: `$VAR`, `&&`, `|` and
// `>` are ordinary characters, which splitWords reports so the caller can say so.

export class ShellWordsError extends Error {
  override readonly name = 'ShellWordsError';
}

export interface Words {
  words: string[];
  /** Unquoted characters a shell would treat specially (`&&`, `|`, `;`, `>`, `<`, `` ` ``). */
  shellSyntax: string[];
}

const DOUBLE_QUOTE_ESCAPES = new Set(['"', '\\', '$', '`', '\n']);
const SHELL_SYNTAX = /^(&&|\|\||>>|\$\(|[|;&<>`])/;

export function splitWords(text: string): Words {
  const words: string[] = [];
  const shellSyntax: string[] = [];
  let word = '';
  let inWord = false;
  let quote: '"' | "'" | undefined;
  for (let index = 0; index < text.length; index++) {
    const char = text[index]!;
    if (quote === "'") {
      if (char === "'") quote = undefined;
      else word += char;
    } else if (quote === '"') {
      if (char === '"') quote = undefined;
      else if (char === '\\' && DOUBLE_QUOTE_ESCAPES.has(text[index + 1] ?? '')) {
        index += 1;
        if (text[index] !== '\n') word += text[index];
      } else word += char;
    } else if (char === "'" || char === '"') {
      quote = char;
      inWord = true;
    } else if (char === '\\') {
      index += 1;
      if (index < text.length && text[index] !== '\n') word += text[index];
      inWord = true;
    } else if (/\s/.test(char)) {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
    } else {
      const syntax = SHELL_SYNTAX.exec(text.slice(index))?.[0];
      if (syntax !== undefined && !shellSyntax.includes(syntax)) shellSyntax.push(syntax);
      // `&&` is taken whole, not as `&&` and then `&`.
      const taken = syntax ?? char;
      word += taken;
      index += taken.length - 1;
      inWord = true;
    }
  }
  if (quote !== undefined) throw new ShellWordsError(`unterminated ${quote} quote in: ${text}`);
  if (inWord) words.push(word);
  return { words, shellSyntax };
}
