/**
 * RTMP command and status message builders shared by the server session and the client.
 * All bytes are chunked with the sender's outgoing chunk size.
 */
import { encodeAmf0, decodeAmf0, type Amf0Object, type Amf0Value } from '../../formats/amf0.js';
import {
  encodeChunks, CSID_COMMAND, CSID_DATA, RTMP_MSG_COMMAND_AMF0, RTMP_MSG_DATA_AMF0, RTMP_MSG_COMMAND_AMF3, RTMP_MSG_DATA_AMF3,
  type RtmpMessage,
} from '../../formats/rtmp-chunk.js';

export const NC_CONNECT_SUCCESS = 'NetConnection.Connect.Success';
export const NC_CONNECT_REJECTED = 'NetConnection.Connect.Rejected';
export const NS_PUBLISH_START = 'NetStream.Publish.Start';
export const NS_PUBLISH_BADNAME = 'NetStream.Publish.BadName';
export const NS_UNPUBLISH_SUCCESS = 'NetStream.Unpublish.Success';
export const NS_PLAY_RESET = 'NetStream.Play.Reset';
export const NS_PLAY_START = 'NetStream.Play.Start';
export const NS_PLAY_STOP = 'NetStream.Play.Stop';
export const NS_PLAY_STREAM_NOT_FOUND = 'NetStream.Play.StreamNotFound';
export const NS_PLAY_UNPUBLISH_NOTIFY = 'NetStream.Play.UnpublishNotify';
export const NS_PLAY_PUBLISH_NOTIFY = 'NetStream.Play.PublishNotify';

/** Window acknowledgement size and peer bandwidth we announce (what FMS and nginx-rtmp use). */
export const DEFAULT_WINDOW_ACK_SIZE = 2_500_000;

export function commandMessage(chunkSize: number, streamId: number, name: string, transactionId: number, ...args: Amf0Value[]): Buffer {
  return encodeChunks(CSID_COMMAND, RTMP_MSG_COMMAND_AMF0, streamId, 0, encodeAmf0(name, transactionId, ...args), chunkSize);
}

export function dataMessage(chunkSize: number, streamId: number, ...values: Amf0Value[]): Buffer {
  return encodeChunks(CSID_DATA, RTMP_MSG_DATA_AMF0, streamId, 0, encodeAmf0(...values), chunkSize);
}

export function statusObject(level: 'status' | 'error' | 'warning', code: string, description: string, extra: Amf0Object = {}): Amf0Object {
  return { level, code, description, ...extra };
}

/** onStatus is a NetStream status event on a message stream (transaction id 0, null command object). */
export function onStatusMessage(chunkSize: number, streamId: number, level: 'status' | 'error' | 'warning', code: string, description: string, extra: Amf0Object = {}): Buffer {
  return commandMessage(chunkSize, streamId, 'onStatus', 0, null, statusObject(level, code, description, extra));
}

/** decodeCommandPayload gives the AMF0 values of a command or data message (AMF3 variants carry a leading 0). */
export function decodeCommandPayload(msg: RtmpMessage): Amf0Value[] {
  const skip = (msg.type === RTMP_MSG_COMMAND_AMF3 || msg.type === RTMP_MSG_DATA_AMF3) && msg.payload[0] === 0 ? 1 : 0;
  return decodeAmf0(msg.payload, skip);
}

/** streamNameOf strips a query string ("key?token=x") and surrounding slashes. */
export function streamNameOf(raw: unknown): string {
  const s = typeof raw === 'string' ? raw : '';
  return s.replace(/\?.*$/s, '').replace(/^\/+|\/+$/g, '');
}
