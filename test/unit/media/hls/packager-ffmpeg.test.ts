import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HlsPackager } from '../../../../src/media/hls/packager.js';
import { renderMediaPlaylist } from '../../../../src/media/hls/playlist.js';
import { readFlv } from '../../../../testkit/hls-frames.js';

// Real H.264 (with B-frames) + AAC from ffmpeg, through the packager, decoded back by ffmpeg.
test('packager output from real ffmpeg FLV decodes cleanly (fMP4 file and HLS playlist)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'onair-hls-'));
  try {
    const flv = join(dir, 'in.flv');
    execFileSync('ffmpeg', [
      '-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc2=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100',
      '-t', '5', '-c:v', 'libx264', '-preset', 'veryfast', '-g', '50', '-r', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-b:a', '64k', '-f', 'flv', flv,
    ], { timeout: 60_000 });
    const content = readFlv(readFileSync(flv));
    assert.ok(content.video && content.audio);
    content.video.width = 320;
    content.video.height = 240;
    const videoFrames = content.frames.filter((f) => f.kind === 'video').length;
    assert.ok(content.frames.some((f) => f.pts > f.dts), 'input has B-frames');

    const p = new HlsPackager({ name: 'source', targetDurationSeconds: 2, partTargetSeconds: 0.333, windowSegments: 10, tag: 'test' });
    p.onTracks(content.video, content.audio);
    for (const f of content.frames) p.onFrame(f);
    p.onEnd();

    // One fMP4 file: init + every segment.
    const mp4 = join(dir, 'all.mp4');
    writeFileSync(mp4, Buffer.concat([p.init!.bytes, ...p.segments.map((s) => s.bytes!)]));
    const probe = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', mp4]).toString());
    const v = probe.streams.find((s: { codec_type: string }) => s.codec_type === 'video');
    const a = probe.streams.find((s: { codec_type: string }) => s.codec_type === 'audio');
    assert.equal(v.codec_name, 'h264');
    assert.equal(v.width, 320);
    assert.equal(v.height, 240);
    assert.equal(Number(v.nb_read_frames), videoFrames);
    assert.equal(a.codec_name, 'aac');
    assert.equal(Number(a.sample_rate), 44100);
    const dec = spawnSync('ffmpeg', ['-v', 'error', '-i', mp4, '-f', 'null', '-'], { timeout: 60_000 });
    assert.equal(dec.status, 0);
    assert.equal(dec.stderr.toString().trim(), '', 'decodes without errors');

    // The same resources as an HLS playlist on disk (ENDLIST), read by ffmpeg's HLS demuxer.
    writeFileSync(join(dir, p.init!.uri), p.init!.bytes);
    for (const s of p.segments) writeFileSync(join(dir, s.uri), s.bytes!);
    writeFileSync(join(dir, 'playlist.m3u8'), renderMediaPlaylist(p.playlistModel()));
    const hls = spawnSync('ffmpeg', ['-v', 'error', '-i', join(dir, 'playlist.m3u8'), '-f', 'null', '-'], { timeout: 60_000 });
    assert.equal(hls.status, 0, hls.stderr.toString());
    assert.equal(hls.stderr.toString().trim(), '');
    const pv = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-select_streams', 'v', '-show_streams', '-of', 'json', join(dir, 'playlist.m3u8')]).toString());
    assert.equal(Number(pv.streams[0].nb_read_frames), videoFrames);

    // Audio only: the same AAC frames alone.
    const ap = new HlsPackager({ name: 'audio', targetDurationSeconds: 2, partTargetSeconds: 0.333, windowSegments: 10, tag: 'aud' });
    ap.onTracks(undefined, content.audio);
    for (const f of content.frames) if (f.kind === 'audio') ap.onFrame(f);
    ap.onEnd();
    const m4a = join(dir, 'audio.mp4');
    writeFileSync(m4a, Buffer.concat([ap.init!.bytes, ...ap.segments.map((x) => x.bytes!)]));
    const adec = spawnSync('ffmpeg', ['-v', 'error', '-i', m4a, '-f', 'null', '-'], { timeout: 60_000 });
    assert.equal(adec.status, 0);
    assert.equal(adec.stderr.toString().trim(), '');
    const ap2 = JSON.parse(execFileSync('ffprobe', ['-v', 'error', '-count_frames', '-show_streams', '-of', 'json', m4a]).toString());
    assert.equal(ap2.streams.length, 1);
    assert.equal(Number(ap2.streams[0].nb_read_frames), content.frames.filter((f) => f.kind === 'audio').length);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
