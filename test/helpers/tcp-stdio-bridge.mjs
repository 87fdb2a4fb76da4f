// stdin/stdout <-> one TCP connection. Run inside a lab namespace (ip netns exec), it lets a
// test process in the host's namespace talk to a server there, like OpenSSH's ProxyCommand.
import net from 'node:net';

const [host, port] = process.argv.slice(2);
const socket = net.connect(Number(port), host);
socket.on('error', (error) => {
  process.stderr.write(`tcp-stdio-bridge: ${error.message}\n`);
  process.exit(1);
});
socket.on('close', () => process.exit(0));
process.stdin.pipe(socket);
socket.pipe(process.stdout);
