// Preloaded into the measured onair process by bench/idle-rss.ts (node --import): on SIGUSR2 it
// writes where the process's memory is — RSS split by anonymous and file-backed pages, the V8
// heap by space, code, and Buffers outside the heap — to $ONAIR_MEMORY_PROBE_OUT. Nothing else.
import v8 from 'node:v8';
import { readFileSync, writeFileSync, renameSync } from 'node:fs';

const out = process.env.ONAIR_MEMORY_PROBE_OUT;
const KIB_FIELDS = ['Rss', 'Anonymous', 'Shared_Clean', 'Private_Clean', 'Private_Dirty'];

function smapsRollupKiB() {
  const text = readFileSync('/proc/self/smaps_rollup', 'utf8');
  const fields = {};
  for (const line of text.split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m && KIB_FIELDS.includes(m[1])) fields[m[1]] = Number(m[2]);
  }
  return fields;
}

if (out) {
  process.on('SIGUSR2', () => {
    const usage = process.memoryUsage();
    const spaces = Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size }]));
    const data = { usage, smapsKiB: smapsRollupKiB(), heapSpaces: spaces, heapCode: v8.getHeapCodeStatistics() };
    writeFileSync(out + '.tmp', JSON.stringify(data));
    renameSync(out + '.tmp', out);
  });
}
