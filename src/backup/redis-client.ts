// A Redis client for one short task: connected before use (so a refused connection says
// so), no reconnect loop, and errors as rejected promises, never as 'error' events.
import { Redis } from 'ioredis';
import { BackupError } from './backup-error.ts';

export type RedisAddress = { path: string } | { host: string; port: number };

export async function redisClient(address: RedisAddress): Promise<Redis> {
  const client = new Redis({
    ...address,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
    connectTimeout: 5000,
  });
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (error) {
    client.disconnect();
    const where = 'path' in address ? address.path : `${address.host}:${address.port}`;
    throw new BackupError(`cannot connect to redis at ${where}: ${(error as Error).message}`);
  }
  return client;
}

/** Runs `use` with a connected client, then disconnects it. */
export async function withRedis<T>(
  address: RedisAddress,
  use: (client: Redis) => Promise<T>,
): Promise<T> {
  const client = await redisClient(address);
  try {
    return await use(client);
  } finally {
    client.disconnect();
  }
}
