// The words a command takes after its name, checked before it runs (src/cli/usage.ts).
import { describe, expect, it } from 'vitest';
import { checkPositionals, UsageError, type Positionals } from '../../src/cli/usage.ts';

function refusal(spec: Positionals, given: string[]): UsageError {
  try {
    checkPositionals('demo', spec, given);
  } catch (error) {
    if (error instanceof UsageError) return error;
    throw error;
  }
  throw new Error(`${JSON.stringify(given)} was accepted`);
}

describe('checkPositionals', () => {
  it('takes required, optional and trailing words, and nothing more', () => {
    expect(() => checkPositionals('demo', ['<a>', '[b]'], ['x'])).not.toThrow();
    expect(() => checkPositionals('demo', ['<a>', '[b]'], ['x', 'y'])).not.toThrow();
    expect(refusal(['<a>', '[b]'], ['x', 'y', 'z'])).toMatchObject({
      message: 'unexpected argument "z"',
      hint: expect.stringContaining('`flotilla demo` takes only <a> [b]'),
    });
    expect(refusal(['<a>'], []).message).toBe('missing <a>');
    expect(refusal([], ['x']).hint).toContain('`flotilla demo` takes no arguments');
    expect(() =>
      checkPositionals('demo', ['<node>', '<command>...'], ['n', 'ls', '-h']),
    ).not.toThrow();
    expect(refusal(['<node>', '<command>...'], ['n']).message).toBe('missing <command>');
  });

  it('checks each verb on its own, and names the verbs', () => {
    const spec: Positionals = { verbs: { get: ['KEY'], list: [] } };
    expect(() => checkPositionals('demo', spec, ['get', 'k'])).not.toThrow();
    expect(refusal(spec, ['list', 'k']).hint).toContain('`flotilla demo list` takes no arguments');
    expect(refusal(spec, []).message).toBe('missing what to do: get or list');
    expect(refusal(spec, ['lst'])).toMatchObject({
      message: 'unknown verb "lst"',
      hint: 'did you mean `list`?',
    });
    // Not a verb because an object has such a property.
    expect(refusal(spec, ['constructor']).message).toBe('unknown verb "constructor"');
  });

  it('never repeats an extra word that is likely a secret', () => {
    const spec: Positionals = {
      verbs: { set: { words: ['NAME'], secretExtra: 'read from stdin' } },
    };
    const error = refusal(spec, ['set', 'NAME', 'hunter2']);
    expect(error.message).toBe('unexpected argument after NAME');
    expect(error.hint).toBe('read from stdin');
    expect(`${error.message} ${error.hint}`).not.toContain('hunter2');
  });
});
