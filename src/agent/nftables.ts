// Loads an nftables script (plan's ruleset for this node) in one `nft -f` transaction: the
// script replaces table inet flotilla atomically, so a bad script changes nothing. Also finds
// and deletes a table (`flotilla node leave` removes the firewall `down` leaves up).
import { execFile, spawn } from 'node:child_process';
import { promisify } from 'node:util';

export async function loadNftScript(script: string): Promise<void> {
  const child = spawn('nft', ['-f', '-'], { stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exit = new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', resolve);
  });
  child.stdin.end(script);
  const code = await exit.catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new Error('nft was not found: apt-get install nftables');
    throw error;
  });
  if (code !== 0) throw new Error(`nft rejected the firewall: ${stderr.trim() || `exit ${code}`}`);
}

/** Whether `nft list table` finds the table (false too when nft itself is missing). */
export async function nftTableExists(family: string, name: string): Promise<boolean> {
  return promisify(execFile)('nft', ['list', 'table', family, name]).then(
    () => true,
    () => false,
  );
}

/** Deletes the table whether or not it exists, in one transaction (other tables untouched). */
export async function deleteNftTable(family: string, name: string): Promise<void> {
  await loadNftScript(`table ${family} ${name} {}\ndelete table ${family} ${name}\n`);
}
