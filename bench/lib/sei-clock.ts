/**
 * Wallclock stamps carried inside H.264 as SEI user_data_unregistered NAL units, so a
 * viewer of any protocol can tell when the frame it holds left the publisher.
 *
 * NAL layout (AVCC, length-prefixed as in FLV/MP4):
 *   u32 length | 0x06 (SEI) | 0x05 (payload type: user data unregistered) | size |
 *   16-byte UUID | 13 ASCII digits of epoch ms | 0x80 (rbsp trailing bits)
 * ASCII digits and a UUID without zero bytes need no emulation-prevention bytes.
 */
export const CLOCK_UUID = Buffer.from('6f6e6169722d636c6f636b2d73746d70', 'hex'); // "onair-clock-stmp"
const DIGITS = 13;

/** clockSeiNal builds one AVCC-framed SEI NAL carrying `ms`. */
export function clockSeiNal(ms: number): Buffer {
  const digits = Buffer.from(String(Math.floor(ms)).padStart(DIGITS, '0'), 'latin1');
  const payloadSize = CLOCK_UUID.length + DIGITS;
  const nal = Buffer.concat([Buffer.from([0x06, 0x05, payloadSize]), CLOCK_UUID, digits, Buffer.from([0x80])]);
  const len = Buffer.alloc(4);
  len.writeUInt32BE(nal.length);
  return Buffer.concat([len, nal]);
}

/** findClockStamps returns every stamp found in a byte range (FLV tag body, fMP4 part, ...). */
export function findClockStamps(buf: Buffer): number[] {
  const out: number[] = [];
  let from = 0;
  for (;;) {
    const at = buf.indexOf(CLOCK_UUID, from);
    if (at < 0 || at + CLOCK_UUID.length + DIGITS > buf.length) return out;
    const s = buf.toString('latin1', at + CLOCK_UUID.length, at + CLOCK_UUID.length + DIGITS);
    if (/^\d{13}$/.test(s)) out.push(Number(s));
    from = at + CLOCK_UUID.length;
  }
}
