// Free loopback ports for servers that cannot listen on port 0 themselves (redis-server, nginx, ffmpeg listeners).
import { createServer } from 'node:net';

/** freePort asks the kernel for a free loopback TCP port (released again before it is used). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, '127.0.0.1', () => {
      const a = s.address();
      const p = typeof a === 'object' && a ? a.port : 0;
      s.close(() => resolve(p));
    });
    s.on('error', reject);
  });
}
