// Values on the bus are JSON. Whatever is read back is checked at the boundary with a
// parser — a zod schema fits, as does anything with `parse(value: unknown): T`.

export interface Parser<T> {
  parse(value: unknown): T;
}

export const anyJson: Parser<unknown> = { parse: (value) => value };

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export function encodeJson(value: unknown): Uint8Array {
  return encoder.encode(JSON.stringify(value));
}

export function decodeJson<T>(bytes: Uint8Array, parser: Parser<T>): T {
  return parser.parse(JSON.parse(decoder.decode(bytes)) as unknown);
}

/** A value on the bus that isn't JSON or doesn't match its schema. */
export class BusValueError extends Error {
  constructor(
    readonly where: string,
    readonly revision: number,
    override readonly cause: unknown,
  ) {
    super(`invalid value at ${where} (revision ${revision}): ${errorMessage(cause)}`);
  }
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
