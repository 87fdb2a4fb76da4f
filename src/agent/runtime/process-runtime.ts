// Native processes: a desired instance becomes a ProcessSpec (process-spec.ts) run by a
// ProcessSupervisor in its service's cgroup (its local network segment); what an earlier
// agent left running is known from the instance records on disk.
import type { DesiredInstance } from '../../plan/desired.ts';
import { ProcessSupervisor } from '../process/supervisor.ts';
import { listInstanceRecords, readInstanceRecord, specHash } from '../process/instance-records.ts';
import { stopRecordedInstance } from '../process/terminate.ts';
import { processSpecFor, type AgentPaths, type SecretLookup } from '../process-spec.ts';
import type { SegmentEnforcer } from '../segment-enforcer.ts';
import type { InstanceRuntime, PreparedInstance } from './instance-runtime.ts';

export class ProcessRuntime implements InstanceRuntime {
  constructor(
    private readonly paths: AgentPaths,
    private readonly segments: SegmentEnforcer,
  ) {}

  prepare(instance: DesiredInstance, secrets: SecretLookup): PreparedInstance {
    let spec = processSpecFor(instance, this.paths, secrets);
    const cgroup = this.segments.cgroupFor(
      instance.runtime.kind === 'process' ? instance.runtime.cgroup : undefined,
    );
    if (cgroup !== undefined) spec = { ...spec, cgroup };
    const { env, cwd, user } = spec;
    return {
      specHash: specHash(spec),
      // Exactly what the process gets: its user, its rendered environment, its directory.
      checkTarget: { ports: instance.ports, env, cwd, ...(user === undefined ? {} : { user }) },
      supervise: () => new ProcessSupervisor(spec),
    };
  }

  leftovers(): Promise<string[]> {
    return Promise.resolve(listInstanceRecords(this.paths.instances).map((record) => record.id));
  }

  async stopLeftover(id: string): Promise<void> {
    const record = readInstanceRecord(this.paths.instances, id);
    if (record) await stopRecordedInstance(this.paths.instances, record);
  }
}
