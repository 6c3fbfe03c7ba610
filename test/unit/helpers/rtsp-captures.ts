/** Real RTSP client input, shared by the RTSP format tests. */

/** ffmpeg 5.1's ANNOUNCE for an x264 + AAC publish (captured). */
export const FFMPEG_ANNOUNCE =
  'ANNOUNCE rtsp://127.0.0.1:18554/live/KEY RTSP/1.0\r\nContent-Type: application/sdp\r\nCSeq: 2\r\nUser-Agent: Lavf59.27.100\r\nContent-Length: 495\r\n\r\n' +
  'v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=No Name\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\na=tool:libavformat LIBAVFORMAT_VERSION\r\nm=video 0 RTP/AVP 96\r\n' +
  'a=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1; sprop-parameter-sets=Z0LADdoFB+wEQAAAAwBAAAAMg8UKqA==,aM4PyA==; profile-level-id=42C00D\r\n' +
  'a=control:streamid=0\r\nm=audio 0 RTP/AVP 97\r\nb=AS:69\r\na=rtpmap:97 MPEG4-GENERIC/44100/1\r\n' +
  'a=fmtp:97 profile-level-id=1;mode=AAC-hbr;sizelength=13;indexlength=3;indexdeltalength=3; config=120856E500\r\na=control:streamid=1\r\n';
