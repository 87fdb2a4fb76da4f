// The gateway's upstream DNS responder has no authentication: its boundary is that it listens
// on loopback only, answers only its own names, and drops or refuses everything else. Tried
// from a non-loopback address of this machine, and with foreign, malformed and oversized queries.
import { execFile } from 'node:child_process';
import dgram from 'node:dgram';
import { promises as dns } from 'node:dns';
import os from 'node:os';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamDns } from '../../src/agent/gateway/upstream-dns.ts';

const NAME = 'http.web.route.flotilla.';

/** Sends `packet` to address:port and waits for one datagram back, or undefined. */
function exchange(address: string, port: number, packet: Buffer): Promise<Buffer | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    const done = (answer: Buffer | undefined) => {
      clearTimeout(timer);
      socket.close();
      resolve(answer);
    };
    const timer = setTimeout(() => done(undefined), 1000);
    socket.on('message', (message) => done(message));
    socket.on('error', () => done(undefined)); // ICMP port unreachable
    socket.send(packet, port, address);
  });
}

/** A standard query for `name` (type `type`) with id 0x1234. */
function query(name: string, type: number, flags = 0x0100): Buffer {
  const header = Buffer.from([0x12, 0x34, flags >> 8, flags & 0xff, 0, 1, 0, 0, 0, 0, 0, 0]);
  const labels = name
    .replace(/\.$/, '')
    .split('.')
    .map((label) => Buffer.concat([Buffer.from([label.length]), Buffer.from(label)]));
  return Buffer.concat([header, ...labels, Buffer.from([0, 0, type, 0, 1])]);
}

const rcode = (answer: Buffer | undefined) => (answer === undefined ? undefined : answer[3]! & 0xf);

/** This machine's IPv4 addresses other than loopback (its network interfaces). */
function otherAddresses(): string[] {
  return Object.values(os.networkInterfaces())
    .flat()
    .filter((entry) => entry?.family === 'IPv4' && !entry.internal)
    .map((entry) => entry!.address);
}

describe('the gateway DNS responder', () => {
  let responder: UpstreamDns;
  let resolver: dns.Resolver;

  beforeAll(async () => {
    responder = await UpstreamDns.start();
    responder.update({ [NAME]: ['127.0.0.1:3000', '10.0.0.2:3000'] });
    resolver = new dns.Resolver({ timeout: 1000, tries: 1 });
    resolver.setServers([`127.0.0.1:${responder.port}`]);
  });

  afterAll(() => responder?.close());

  it('answers its own names on loopback (the control)', async () => {
    const records = await resolver.resolveSrv(NAME);
    expect(records.map((record) => `${record.name}:${record.port}`)).toEqual([
      '127-0-0-1.addr.flotilla:3000',
      '10-0-0-2.addr.flotilla:3000',
    ]);
    expect(await resolver.resolve4('10-0-0-2.addr.flotilla.')).toEqual(['10.0.0.2']);
  });

  it('listens on 127.0.0.1 only: no answer on any other address of this machine', async () => {
    const addresses = otherAddresses();
    // A machine with no other address proves nothing here.
    expect(addresses.length).toBeGreaterThan(0);
    for (const address of addresses) {
      expect(await exchange(address, responder.port, query(NAME, 33)), address).toBeUndefined();
    }
    expect(rcode(await exchange('127.0.0.1', responder.port, query(NAME, 33)))).toBe(0);
  });

  it('refuses names outside its zone and answers NXDOMAIN for unknown names in it', async () => {
    await expect(resolver.resolve4('example.com')).rejects.toMatchObject({ code: 'EREFUSED' });
    await expect(resolver.resolve4('localhost')).rejects.toMatchObject({ code: 'EREFUSED' });
    await expect(resolver.resolveSrv('http.other.route.flotilla.')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    // An address it does not hand out is not one of its names either.
    await expect(resolver.resolve4('10-0-0-9.addr.flotilla.')).rejects.toMatchObject({
      code: 'ENOTFOUND',
    });
    expect(responder.answered.refused).toBeGreaterThanOrEqual(2);
  });

  it('answers FORMERR to what is not one plain query, and ignores what it cannot answer', async () => {
    const port = responder.port;
    const response = query(NAME, 33, 0x8000); // QR set: a response, not a query
    expect(rcode(await exchange('127.0.0.1', port, response))).toBe(1);
    const twoQuestions = query(NAME, 33);
    twoQuestions[5] = 2;
    expect(rcode(await exchange('127.0.0.1', port, twoQuestions))).toBe(1);
    const truncated = query(NAME, 33).subarray(0, 20);
    expect(rcode(await exchange('127.0.0.1', port, truncated))).toBe(1);
    const compressed = Buffer.concat([query(NAME, 33).subarray(0, 12), Buffer.from([0xc0, 0x0c])]);
    expect(rcode(await exchange('127.0.0.1', port, compressed))).toBe(1);
    const notOpt = Buffer.concat([query(NAME, 33), Buffer.from([0, 0, 1, 0, 1, 0, 0, 0, 0, 0, 0])]);
    notOpt[11] = 1; // one additional record, an A record instead of EDNS OPT
    expect(rcode(await exchange('127.0.0.1', port, notOpt))).toBe(1);
    expect(await exchange('127.0.0.1', port, Buffer.from([1]))).toBeUndefined();
    // Still answering after all that.
    expect(await resolver.resolveSrv(NAME)).toHaveLength(2);
  });

  it('never answers more than the asker takes: 512 bytes, or what its EDNS record offers', async () => {
    const many = 'http.many.route.flotilla.';
    const dials = Array.from({ length: 60 }, (_, index) => `10.0.${index}.200:3000`);
    responder.update({ [NAME]: ['127.0.0.1:3000'], [many]: dials });
    const count = (answer: Buffer | undefined) => answer!.readUInt16BE(6);
    const plain = await exchange('127.0.0.1', responder.port, query(many, 33));
    expect(plain!.length).toBeLessThanOrEqual(512);
    expect(count(plain)).toBeGreaterThan(0);
    // EDNS OPT for the root, as Go's resolver sends it: 1232 bytes.
    const opt = Buffer.from([0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0]);
    const edns = Buffer.concat([query(many, 33), opt]);
    edns[11] = 1;
    const large = await exchange('127.0.0.1', responder.port, edns);
    expect(large!.length).toBeLessThanOrEqual(1232);
    expect(count(large)).toBeGreaterThan(count(plain));
    expect(count(large)).toBeLessThan(dials.length);
  });

  it.skipIf(process.getuid?.() !== 0)(
    'sits on a port no local user can take over while the agent is down',
    async () => {
      // The attack: the agent stops, Caddy still asks this port, and another user binds it
      // to answer with upstreams of their own.
      const squatted = await UpstreamDns.start();
      const port = squatted.port;
      await squatted.close();
      const script = `require('node:dgram').createSocket('udp4').on('error', (e) => { console.log(e.code); process.exit(0); }).bind(${port}, '127.0.0.1', () => { console.log('bound'); process.exit(0); });`;
      const asNobody = await promisify(execFile)('setpriv', [
        '--reuid=nobody',
        '--regid=nogroup',
        '--clear-groups',
        process.execPath,
        '-e',
        script,
      ]);
      expect(asNobody.stdout.trim()).toBe('EACCES');
      // The control: the port was free, and root (the next agent) takes it again.
      const again = await UpstreamDns.start(port);
      expect(again.port).toBe(port);
      await again.close();
    },
  );
});
