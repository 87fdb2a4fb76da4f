// Stand-in for the real deepgram-proxy, which listens on no fixed port: it stays up until
// it is asked to stop.
import { clearInterval, setInterval } from 'node:timers';

const timer = setInterval(() => {}, 60_000);

process.on('SIGTERM', () => {
  clearInterval(timer);
});
