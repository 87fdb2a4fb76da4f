import { describe, expect, it } from 'vitest';
import { InterpolationError, parseTemplate, renderTemplate } from '../../src/spec/interpolation.ts';

describe('parsing ${…} references', () => {
  it('splits text and every reference kind', () => {
    expect(
      parseTemplate(
        'pg://u:${secret:PW}@${db.host}:${db.port.main}/x ${port} ${data} ${api.address}',
      ),
    ).toEqual([
      { text: 'pg://u:' },
      { ref: { kind: 'secret', name: 'PW' }, source: 'secret:PW' },
      { text: '@' },
      { ref: { kind: 'service', service: 'db', field: 'host' }, source: 'db.host' },
      { text: ':' },
      {
        ref: { kind: 'service', service: 'db', field: 'port', port: 'main' },
        source: 'db.port.main',
      },
      { text: '/x ' },
      { ref: { kind: 'self', field: 'port' }, source: 'port' },
      { text: ' ' },
      { ref: { kind: 'self', field: 'data' }, source: 'data' },
      { text: ' ' },
      { ref: { kind: 'service', service: 'api', field: 'address' }, source: 'api.address' },
    ]);
  });

  it('reads $${ as a literal ${', () => {
    expect(parseTemplate('cost: $${HOME}')).toEqual([{ text: 'cost: ${HOME}' }]);
  });

  it.each([
    ['${secrets:PW}', 'did you mean `${secret:PW}`?'],
    ['${API_KEY}', 'for a secret write `${secret:API_KEY}`'],
    ['${db.hots}', 'did you mean `${db.host}`?'],
    ['${secret:bad-name}', 'letters, digits and underscores'],
    ['unterminated ${db.host', 'close it with `}`'],
    ['${}', 'use ${secret:NAME}'],
    ['${db.host.x}', 'use ${secret:NAME}'],
  ])('rejects %s with a hint', (text, hint) => {
    try {
      parseTemplate(text);
      expect.unreachable('should have thrown');
    } catch (error) {
      expect(error).toBeInstanceOf(InterpolationError);
      expect((error as InterpolationError).hint).toContain(hint);
    }
  });

  it('renders references and can keep the result a template', () => {
    const resolve = () => 'v';
    expect(renderTemplate('a=${port} b=$${x}', resolve)).toBe('a=v b=${x}');
    expect(renderTemplate('a=${port} b=$${x}', resolve, true)).toBe('a=v b=$${x}');
  });
});
