// Reader side of the write-floor bench: N connections to 127.0.0.1:PORT from 127.0.0.1–4, read
// into one shared buffer, polling like the chat load generator (a 1 ms futex sleep per turn, then
// every readable socket in one epoll pass), so the writer is not charged a wakeup per write.
import { connect } from 'node:net';

const [port, n] = process.argv.slice(2).map(Number);
const buffer = Buffer.allocUnsafe(65536);
const cell = new Int32Array(new SharedArrayBuffer(4));
const turn = () => {
  Atomics.wait(cell, 0, 0, 1);
  setImmediate(turn);
};
setImmediate(turn);
const sockets = [];
for (let i = 0; i < n; i++) {
  await new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress: `127.0.0.${1 + (i % 4)}`, onread: { buffer, callback: () => true } }, resolve);
    s.once('error', reject);
    sockets.push(s);
  });
}
process.send?.('connected');
process.on('message', (m) => {
  if (m === 'exit') process.exit(0);
});
