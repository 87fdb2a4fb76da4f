// Loads an nftables script (plan's ruleset for this node) in one `nft -f` transaction: the
// script replaces table inet flotilla atomically, so a bad script changes nothing.
import { spawn } from 'node:child_process';

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
