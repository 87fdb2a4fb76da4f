// Stopping an instance means stopping its whole process group (every instance is spawned
// as the leader of its own group), the way the service asked: its stop signal first, then
// SIGKILL for whatever is still there after the timeout.
import { setTimeout as sleep } from 'node:timers/promises';
import { removeInstanceRecord, type InstanceRecord } from './instance-records.ts';
import { groupMembers, isRunning, signalGroup } from '../../system/proc.ts';

export interface StopPolicy {
  signal: NodeJS.Signals;
  timeoutMs: number;
}

/** How often a stop looks whether the group is gone: short, a stop is waited on. */
const STOP_POLL_MS = 25;
/** SIGKILL cannot be caught, but a process stuck in the kernel (D state) can outlast it. */
const KILL_WAIT_MS = 5_000;

async function groupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (groupMembers(pgid).length === 0) return true;
    if (Date.now() >= deadline) return false;
    await sleep(STOP_POLL_MS);
  }
}

/**
 * Stops the process group led by `pgid` and resolves once no live member is left. The
 * caller vouches that the leader is (or just was) its process: a group ID cannot be
 * reused while any member of the group lives.
 */
export async function terminateGroup(pgid: number, stop: StopPolicy): Promise<void> {
  if (!signalGroup(pgid, stop.signal)) return;
  if (await groupGone(pgid, stop.timeoutMs)) return;
  signalGroup(pgid, 'SIGKILL');
  await groupGone(pgid, KILL_WAIT_MS);
}

/**
 * Stops the instance a record describes, if its process is still the recorded one, and
 * forgets the record: for instances that are no longer desired (orphans), found with
 * listInstanceRecords after an agent restart.
 */
export async function stopRecordedInstance(
  stateDir: string,
  record: InstanceRecord,
): Promise<void> {
  if (isRunning(record.pid, record.startTime)) await terminateGroup(record.pid, record.stop);
  removeInstanceRecord(stateDir, record.id);
}
