// The lab's one error class: a mistake or a situation the user can fix, shown as a message
// and a hint (exit 1). Its own file so every part of the lab can throw it without importing
// the lab as a whole.

/** A mistake or a situation the user can fix: shown as a message and a hint, exit 1. */
export class LabError extends Error {
  constructor(
    message: string,
    readonly hint: string,
  ) {
    super(message);
    this.name = 'LabError';
  }
}
