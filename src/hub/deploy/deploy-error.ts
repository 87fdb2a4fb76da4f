// Why a deploy did not happen or did not finish: typed, with the step that failed, the node
// and instance where it did, the last lines that explain it, and a hint at the fix. The API
// answers these as they are; nothing about them is an internal error.

export type DeployStep = 'check' | 'lock' | 'upload' | 'build' | 'release command' | 'health gate';

export class DeployError extends Error {
  constructor(
    readonly step: DeployStep,
    message: string,
    readonly details: {
      /** HTTP status when refused before anything changed (404 unknown service, 409 locked…). */
      status?: number;
      node?: string;
      instance?: string;
      /** The last lines of the build, the release command or the instance's log. */
      output?: string[];
      hint?: string;
    } = {},
  ) {
    super(message);
  }
}
