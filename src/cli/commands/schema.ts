// `flotilla schema`: the JSON Schema of flotilla.yml, generated from the zod schema the
// loader uses, so editors complete and check exactly what validate accepts.
import { z } from 'zod';
import { stackSchema } from '../../spec/schema.ts';
import { writeLine, type Output } from '../output.ts';
import type { CommandSpec } from '../command.ts';

export const schemaCommand: CommandSpec = {
  usage: 'flotilla schema > flotilla.schema.json',
  options: {},
  positionals: [],
  async run(_args, output: Output) {
    const schema = z.toJSONSchema(stackSchema, { io: 'input', unrepresentable: 'any' });
    writeLine(
      output.out,
      JSON.stringify({ ...schema, title: 'Flotilla stack file (flotilla.yml)' }, null, 2),
    );
    return 0;
  },
};
