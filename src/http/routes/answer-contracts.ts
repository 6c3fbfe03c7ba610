/**
 * answer-contracts.ts: compile-time checks that the stream control routes (src/media/control/routes.ts,
 * which return the service's values as they are) answer in the shapes of src/api/schemas.ts that
 * the web app reads. Nothing imports this module; `tsc` checks it with the rest of src/.
 */
import type { EndResult, PublicTarget, StreamControl, StreamsView } from '../../media/control/index.js';
import type { LiveBlock, LiveEnded, RestreamList, Streams } from '../../api/schemas.js';

/** Fits compiles only when Answer can be sent where the schema's type is expected. */
type Fits<Schema, Answer extends Schema> = Answer;

/** StreamControlAnswers names each route's answer next to its schema type; a drift fails `tsc`. */
export type StreamControlAnswers = [
  Fits<Streams, StreamsView>,
  Fits<RestreamList, { restreams: PublicTarget[]; max: number }>,
  Fits<LiveBlock, Awaited<ReturnType<StreamControl['blockOf']>>>,
  Fits<LiveEnded, EndResult>,
];
