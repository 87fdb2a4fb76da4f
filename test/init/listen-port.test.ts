// Where init reads a Node app's port: flags of the start command, `process.env.PORT || N`
// and `.listen(N)` in its source; nothing found stays nothing (no guess here).
import { describe, expect, it } from 'vitest';
import { portInArgs, portInSource } from '../../src/init/listen-port.ts';

describe('portInArgs', () => {
  it('reads --port N, --port=N and -p N, with the index of the word holding it', () => {
    expect(portInArgs(['node', 'server.js', '--port', '4000'], 'start')).toEqual({
      port: 4000,
      readsEnv: false,
      argIndex: 3,
      source: 'start',
    });
    expect(portInArgs(['node', 'server.js', '--port=4100'], 'start')?.argIndex).toBe(2);
    expect(portInArgs(['next', 'start', '-p', '4200'], 'start')?.port).toBe(4200);
  });

  it('ignores what is not a port', () => {
    expect(portInArgs(['node', 'server.js', '--port', 'auto'], 'start')).toBeUndefined();
    expect(portInArgs(['node', 'server.js', '--port', '70000'], 'start')).toBeUndefined();
    expect(portInArgs(['node', 'server.js', '--portal', '4000'], 'start')).toBeUndefined();
  });
});

describe('portInSource', () => {
  it('finds PORT with its default, and the line', () => {
    const text = "import http from 'node:http';\nconst port = Number(process.env.PORT) || 8080;\n";
    expect(portInSource(text, 'server.js')).toEqual({
      port: 8080,
      readsEnv: true,
      source: 'server.js:2',
    });
    expect(portInSource("app.listen(process.env['PORT'] ?? '5000')", 'a.js')?.port).toBe(5000);
  });

  it('finds PORT without a default, taking the port from listen when there is one', () => {
    expect(portInSource('server.listen(process.env.PORT);', 'a.js')).toEqual({
      readsEnv: true,
      source: 'a.js:1',
    });
  });

  it('says a fixed listen(N) does not read PORT', () => {
    expect(portInSource('\n\napp.listen(3000, () => {});', 'app.js')).toEqual({
      port: 3000,
      readsEnv: false,
      source: 'app.js:3',
    });
    expect(portInSource('fastify.listen({ port: 3100 })', 'app.js')?.port).toBe(3100);
  });

  it('returns nothing for a file that says nothing about a port', () => {
    expect(portInSource('console.log("hello")', 'a.js')).toBeUndefined();
  });
});
