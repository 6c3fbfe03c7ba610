/** The Pusher front-end's settings, shared by its server, connections and routes. */
import type { OnairConfig } from '../../config/schema.js';

export type PusherConfig = OnairConfig['chat']['pusher'];

/** PusherSecrets are the app credentials pusher-js and server SDKs sign with. */
export interface PusherSecrets {
  appId: string;
  key: string;
  secret: string;
}
