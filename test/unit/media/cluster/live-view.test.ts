import { test } from 'node:test';
import assert from 'node:assert/strict';
import { addCounts, parseEdgeAudience } from '../../../../src/media/cluster/live-view.js';

test('viewer counts add up per protocol; junk values are left out', () => {
  assert.deepEqual(addCounts({ flv: 2, rtmp: 1 }, { flv: 3, webrtc: 4 }), { flv: 5, rtmp: 1, webrtc: 4 });
  assert.deepEqual(addCounts({ flv: 2 }, undefined), { flv: 2 });
  assert.deepEqual(addCounts({}, { flv: -1, wsflv: Number.NaN, rtmp: 'x' as unknown as number, hls: 2 }), { hls: 2 });
});

test('an edge audience entry parses; anything else is skipped', () => {
  assert.deepEqual(parseEdgeAudience('{"node":"b","at":5,"channels":{"cam":{"flv":2}}}'), { node: 'b', at: 5, channels: { cam: { flv: 2 } } });
  for (const raw of ['', 'null', '[]', '{"node":1,"at":5,"channels":{}}', '{"node":"b","channels":{}}', '{"node":"b","at":5,"channels":[]}', '{"node":"b","at":5,"channels":{"cam":[1]}}', 'x'.repeat(2 * 1024 * 1024)]) {
    assert.equal(parseEdgeAudience(raw), null, raw.slice(0, 40));
  }
});
