/**
 * ChannelHub is the local half of chat fan-out: the channels with subscribers on this process,
 * their subscriptions, and the scheduling that writes publications to them. A publication
 * batch is encoded once per transport kind and the same bytes go to every subscriber; writes
 * happen a time slice per event-loop turn so the loop keeps reading between slices.
 * The hub knows nothing of protocols (Centrifugo, Pusher) or of the cluster: it gets
 * publications from the node and hands them to ChannelSinks.
 */
import { performance } from 'node:perf_hooks';
import type { Logger } from '../observability/logger.js';
import { SharedBatch } from './transport/types.js';
import { encodeClientInfo, encodePublication, encodePush, type ClientInfo, type Publication } from './protocol/codec.js';
import { ChatError, Errors, UnsubscribeCode } from './protocol/codes.js';
import { buildDeltaForms } from './delta.js';
import { matchTags, type TagsFilter } from './tags-filter.js';

/**
 * FLUSH_SLICE_MS bounds one turn of client writes (a loopback socket write costs ~10 µs here, so
 * ~500 clients), after which the event loop reads again before the next slice.
 */
const FLUSH_SLICE_MS = 5;
/** The clock is read every CLOCK_MASK + 1 writes: it costs far less than a socket write, but not nothing. */
const CLOCK_MASK = 31;
/** COMPACT_AFTER: visited flush-list slots beyond this are dropped so the list does not grow without bound. */
const COMPACT_AFTER = 4096;

/**
 * ChannelSink is what the hub needs from a subscriber's connection: a Centrifugo Client, or
 * a connection of another protocol (Pusher) sharing the channels.
 */
export interface ChannelSink {
  readonly id: string;
  /** takeRun writes log[from..to] (batches of entry's channel this subscription lacks). */
  takeRun(log: readonly SharedBatch[], from: number, to: number, entry: SubEntry): void;
  /** queueRun queues log[from..to] ahead of whatever the connection writes next. */
  queueRun(log: readonly SharedBatch[], from: number, to: number, entry: SubEntry): void;
  /** sendPush delivers one non-publication push (join, leave) of a subscribed channel. */
  sendPush(push: string): void;
  /** unsubscribeChannel ends a subscription by the server, telling the client when push is given. */
  unsubscribeChannel(ch: string, push: { code: number; reason: string } | null): Promise<void>;
  clientInfo(chanInfo?: string): ClientInfo;
}

/** SubEntry is one subscription of one connection. */
export interface SubEntry {
  readonly client: ChannelSink;
  readonly channel: string;
  /** false while the subscribe is in progress: live pushes go to buffer. */
  active: boolean;
  /** Pushes that arrived while subscribing; `wrapped` is a publication's JSON full form for delta subscriptions. */
  buffer: { push: string; offset: number; wrapped?: string }[] | null;
  /** The subscription negotiated Fossil deltas. */
  delta?: boolean;
  /** A delta subscription has been handed a publication, the base of the next delta. */
  deltaBase?: boolean;
  /** The subscription's publication tags filter (never with delta), and its key (equal filters share filtered batches). */
  filter?: { tf: TagsFilter; key: string };
  recoverable: boolean;
  positioned: boolean;
  joinLeave: boolean;
  /** Sequence number of the last batch of the channel's log handed to this (live) subscription. */
  sent: number;
  presence: boolean;
  serverSide: boolean;
  chanInfo?: string;
  expireAt: number;
  expireTimer: NodeJS.Timeout | null;
  /** Proxy hook: the subscribe proxy allowed this subscription (its expiry goes to the sub_refresh proxy if enabled). */
  proxied?: boolean;
}

/** Flushable is a connection with a write queue the hub flushes in its time slices. */
export interface Flushable {
  /** True while the hub holds it on its flush list (set and cleared by the hub). */
  flushListed: boolean;
  /** flush writes the queue now, as one write. */
  flush(): void;
}

/** HubBroker is the part of the cluster broker the hub drives: a channel is subscribed while it has local subscribers. */
export interface HubBroker {
  subscribe(channel: string): Promise<void>;
  unsubscribe(channel: string): Promise<void>;
}

export interface ChannelHubDeps {
  /** chat.writeBatchMs: channel fan-out passes are at least this far apart (0: every turn). */
  writeBatchMs: number;
  broker: HubBroker;
  /** fanoutDelay observes, once per batch, the seconds from its oldest publication's arrival to its last subscriber's write. */
  fanoutDelay(seconds: number): void;
  logger: Logger;
}

/** LocalChannel is one channel with subscribers on this process. */
interface LocalChannel {
  name: string;
  entries: Set<SubEntry>;
  /** Pushes waiting for the end of the tick, with their offsets (0 if none). */
  pending: string[];
  pendingOffsets: number[];
  /** The pending publications themselves (for the delta forms, when the channel has delta subscribers at flush). */
  pendingPubs: Publication[];
  /** Delta subscriptions of the channel; while there are any, batches carry delta forms. */
  deltaCount: number;
  /** Data of the channel's last publication (UTF-8 JSON), the base of the next delta; kept while deltaCount > 0. */
  prevData: Buffer | null;
  lastOffset: number;
  epoch: string;
  joinLeaveCount: number;
  /** Arrival time (performance.now) of the oldest pending push; for the fan-out delay metric. */
  pendingSince: number;
  /**
   * The channel's batch log: batches[i] has sequence number batchBase + i; the last has lastSeq.
   * A live subscription remembers the last sequence number it was handed (SubEntry.sent), so a
   * new batch costs nothing per subscriber: a round over the subscribers hands each what it lacks.
   */
  batches: SharedBatch[];
  batchBase: number;
  lastSeq: number;
  /** Subscriptions still subscribing (not live): they collect pushes in their buffer. */
  inactive: Set<SubEntry>;
  /** The running round over entries (a live Set iterator), or null. */
  round: Iterator<SubEntry> | null;
  /** lastSeq when the running round started: when it ends, every live entry has that batch. */
  roundSeq: number;
  /** Batches up to this sequence number have had their fan-out delay observed. */
  observedSeq: number;
}

/** ChannelHub owns this process's channels, subscriptions and output scheduling. */
export class ChannelHub {
  private readonly deps: ChannelHubDeps;
  private readonly channels = new Map<string, LocalChannel>();
  /**
   * Connections with queued output, a FIFO written a time slice per event-loop turn (each
   * once per visit, one write). One that gets more output after its visit joins the end, so a
   * publication reaches every subscriber within one round over the list, and the event loop
   * keeps reading (publications, pongs, API calls) between slices.
   */
  /** Visited slots are cleared (undefined) so a flushed connection is not held until compaction. */
  private flushList: (Flushable | undefined)[] = [];
  /** Index of the next connection to visit in flushList. */
  private flushHead = 0;
  /** Channels with a running round, in the order they are served. */
  private rounds: LocalChannel[] = [];
  private readonly dirtyChannels = new Set<LocalChannel>();
  /** A setImmediate pass is scheduled (connection queues; channels too when channelsDue). */
  private immediateScheduled = false;
  /** Channel fan-out is due in the next immediate pass. */
  private channelsDue = false;
  /** Timer of a channel fan-out held back by writeBatchMs. */
  private channelTimer: NodeJS.Timeout | null = null;
  /** When the last channel fan-out pass ran (performance.now ms). */
  private lastFanoutAt = 0;
  /** After stop() the broker is no longer told about channels left empty. */
  private stopped = false;

  constructor(deps: ChannelHubDeps) {
    this.deps = deps;
  }

  numChannels(): number {
    return this.channels.size;
  }

  numSubscriptions(): number {
    let n = 0;
    for (const ch of this.channels.values()) n += ch.entries.size;
    return n;
  }

  /** channelCounts is the number of local subscriptions of every channel. */
  channelCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const ch of this.channels.values()) out[ch.name] = ch.entries.size;
    return out;
  }

  /** subscriptions iterates every local subscription (live or not). */
  *subscriptions(): IterableIterator<SubEntry> {
    for (const ch of this.channels.values()) yield* ch.entries;
  }

  /** stop makes channels left empty from now on stay subscribed at the broker (its owner closes it). */
  stop(): void {
    this.stopped = true;
  }

  // ---- output scheduling ----

  /** markDirty puts a connection with queued output on the flush list and makes sure a pass runs this turn. */
  markDirty(c: Flushable): void {
    if (c.flushListed) return;
    c.flushListed = true;
    this.flushList.push(c);
    this.scheduleImmediate();
  }

  /** flushNow turns every pending publication into a batch and writes everything queued, now. */
  flushNow(): void {
    this.fanout();
    this.work(true);
  }

  private scheduleImmediate(): void {
    if (this.immediateScheduled) return;
    this.immediateScheduled = true;
    setImmediate(() => this.onImmediate());
  }

  private onImmediate(): void {
    this.immediateScheduled = false;
    if (this.channelsDue) this.fanout();
    this.work();
  }

  /**
   * scheduleFanout arranges the next channel fan-out pass. With writeBatchMs = 0 it runs at
   * the end of this event-loop turn; with W > 0 passes are at least W ms apart, so under load
   * every subscriber gets all publications of up to W ms in one frame and one write, while a
   * quiet channel's publication still goes out at once.
   */
  private scheduleFanout(): void {
    if (this.channelsDue || this.channelTimer !== null) return;
    const w = this.deps.writeBatchMs;
    const wait = w > 0 ? this.lastFanoutAt + w - performance.now() : 0;
    if (wait <= 0) {
      this.channelsDue = true;
      this.scheduleImmediate();
      return;
    }
    this.channelTimer = setTimeout(() => {
      this.channelTimer = null;
      this.fanout();
      this.work();
    }, Math.ceil(wait));
  }

  /** fanout turns every channel's pending pushes into a batch and starts its round. */
  private fanout(): void {
    this.channelsDue = false;
    if (this.channelTimer !== null) {
      clearTimeout(this.channelTimer);
      this.channelTimer = null;
    }
    this.lastFanoutAt = performance.now();
    for (const ch of this.dirtyChannels) {
      this.flushLocal(ch);
    }
    this.dirtyChannels.clear();
  }

  /**
   * work writes for up to FLUSH_SLICE_MS (connections with queued replies first, then channel
   * rounds) and schedules the rest for the next turn; `all` does everything now (stop).
   */
  private work(all = false): void {
    const deadline = all ? Infinity : performance.now() + FLUSH_SLICE_MS;
    if (this.flushClients(deadline) && this.serveRounds(deadline)) return;
    this.scheduleImmediate();
  }

  /** flushClients writes listed connections' queues, one write each, until the deadline; true when the list is empty. */
  private flushClients(deadline: number): boolean {
    const list = this.flushList;
    let i = this.flushHead;
    while (i < list.length) {
      const c = list[i];
      list[i++] = undefined;
      if (c === undefined) continue;
      c.flushListed = false;
      c.flush();
      if ((i & CLOCK_MASK) === 0 && performance.now() >= deadline) break;
    }
    if (i >= list.length) {
      list.length = 0;
      this.flushHead = 0;
      return true;
    }
    this.flushHead = i;
    if (i > COMPACT_AFTER && i * 2 > list.length) {
      this.flushList = list.slice(i);
      this.flushHead = 0;
    }
    return false;
  }

  /** serveRounds advances channel rounds until the deadline; true when none is left. */
  private serveRounds(deadline: number): boolean {
    let visits = 0;
    for (let ch = this.rounds[0]; ch !== undefined; ch = this.rounds[0]) {
      const it = ch.round!;
      for (;;) {
        const r = it.next();
        if (r.done) {
          this.rounds.shift();
          this.endRound(ch);
          break;
        }
        // Up-to-date entries cost a comparison; writes are what the deadline is for.
        if (this.handOver(ch, r.value) && (++visits & CLOCK_MASK) === 0 && performance.now() >= deadline) return false;
      }
    }
    return true;
  }

  /** startRound begins a round over a channel's entries unless one is running (then it repeats when done). */
  private startRound(ch: LocalChannel): void {
    if (ch.round !== null) return;
    ch.round = ch.entries.values();
    ch.roundSeq = ch.lastSeq;
    this.rounds.push(ch);
  }

  /**
   * endRound observes the fan-out delay of the batches every live entry now has, drops them
   * from the log, and starts another round if batches came in meanwhile (the entries visited
   * before they came lack them).
   */
  private endRound(ch: LocalChannel): void {
    ch.round = null;
    const done = ch.roundSeq - ch.batchBase + 1;
    const now = performance.now();
    for (let i = 0; i < done; i++) {
      const b = ch.batches[i];
      if (b === undefined) break;
      if (b.seq > ch.observedSeq) this.deps.fanoutDelay((now - b.since) / 1000);
    }
    ch.observedSeq = Math.max(ch.observedSeq, ch.roundSeq);
    if (done > 0) {
      ch.batches.splice(0, done);
      ch.batchBase += done;
    }
    if (ch.lastSeq > ch.roundSeq && this.channels.get(ch.name) === ch) this.startRound(ch);
  }

  /** handOver gives a live entry the batches it lacks (one write, or behind its connection's queue); true if it wrote. */
  private handOver(ch: LocalChannel, e: SubEntry): boolean {
    if (!e.active || e.sent >= ch.lastSeq) return false;
    // Never below 0: a round ends (and trims the log) only after visiting every live entry.
    const from = Math.max(0, e.sent + 1 - ch.batchBase);
    const to = ch.lastSeq - ch.batchBase;
    e.sent = ch.lastSeq;
    e.client.takeRun(ch.batches, from, to, e);
    return true;
  }

  /**
   * flushChannel turns a channel's pending pushes into a batch now (before its subscriber set
   * changes): subscribing entries get them in their buffer, live ones in the round.
   */
  flushChannel(name: string): void {
    const ch = this.channels.get(name);
    if (ch && ch.pending.length > 0) {
      this.flushLocal(ch);
      this.dirtyChannels.delete(ch);
    }
  }

  private flushLocal(ch: LocalChannel): void {
    const n = ch.pending.length;
    if (n === 0) return;
    const pushes = ch.pending;
    const offsets = ch.pendingOffsets;
    const pubs = ch.pendingPubs;
    ch.pending = [];
    ch.pendingOffsets = [];
    ch.pendingPubs = [];
    let forms = null;
    if (ch.deltaCount > 0 && pubs.length === n) {
      // Once per publication on this node, shared by every delta subscriber of the channel.
      const built = buildDeltaForms(ch.name, pubs, pushes, ch.prevData);
      forms = built.forms;
      ch.prevData = built.last;
    }
    for (const e of ch.inactive) {
      if (!e.buffer) continue;
      for (let i = 0; i < n; i++) {
        if (e.filter && !matchTags(e.filter.tf, pubs[i]?.tags)) continue;
        e.buffer.push({ push: pushes[i] ?? '', offset: offsets[i] ?? 0, wrapped: forms?.wrapped[i] });
      }
    }
    if (ch.entries.size === ch.inactive.size) return;
    const batch = new SharedBatch(pushes);
    batch.delta = forms;
    if (pubs.length === n) batch.tags = pubs.map((p) => p.tags);
    batch.since = ch.pendingSince;
    batch.seq = ++ch.lastSeq;
    ch.batches.push(batch);
    this.startRound(ch);
  }

  // ---- subscriptions ----

  /** addSubscriber adds a subscription (usually inactive); the first on a channel subscribes the process at the broker. */
  async addSubscriber(e: SubEntry): Promise<void> {
    let ch = this.channels.get(e.channel);
    if (!ch) {
      ch = {
        name: e.channel,
        entries: new Set(),
        pending: [],
        pendingOffsets: [],
        pendingPubs: [],
        deltaCount: 0,
        prevData: null,
        lastOffset: 0,
        epoch: '',
        joinLeaveCount: 0,
        pendingSince: 0,
        batches: [],
        batchBase: 1,
        lastSeq: 0,
        inactive: new Set(),
        round: null,
        roundSeq: 0,
        observedSeq: 0,
      };
      this.channels.set(e.channel, ch);
      ch.entries.add(e);
      if (!e.active) ch.inactive.add(e);
      if (e.joinLeave) ch.joinLeaveCount++;
      if (e.delta) ch.deltaCount++;
      try {
        await this.deps.broker.subscribe(e.channel);
      } catch {
        this.removeSubscriber(e);
        throw new ChatError(Errors.internal);
      }
      return;
    }
    ch.entries.add(e);
    if (!e.active) ch.inactive.add(e);
    else e.sent = ch.lastSeq;
    if (e.joinLeave) ch.joinLeaveCount++;
    if (e.delta) ch.deltaCount++;
  }

  /** activateEntry makes a subscription live: from now on it gets every batch after the current one. */
  activateEntry(e: SubEntry): void {
    const ch = this.channels.get(e.channel);
    e.active = true;
    if (!ch) return;
    ch.inactive.delete(e);
    e.sent = ch.lastSeq;
  }

  /** removeSubscriber drops a subscription; the last on a channel unsubscribes the process at the broker. */
  removeSubscriber(e: SubEntry): void {
    const ch = this.channels.get(e.channel);
    if (!ch || !ch.entries.has(e)) return;
    this.flushChannel(e.channel);
    // Batches the round has not handed to this entry yet go to its connection's queue, in order,
    // ahead of whatever follows the removal (an unsubscribe push or reply).
    if (e.active && e.sent < ch.lastSeq) {
      e.client.queueRun(ch.batches, e.sent + 1 - ch.batchBase, ch.lastSeq - ch.batchBase, e);
      e.sent = ch.lastSeq;
    }
    ch.entries.delete(e);
    ch.inactive.delete(e);
    if (e.joinLeave) ch.joinLeaveCount--;
    if (e.delta && --ch.deltaCount === 0) ch.prevData = null;
    if (ch.entries.size === 0) {
      this.channels.delete(e.channel);
      // A running round ends by itself (its iterator is done); the batch log goes with the channel.
      this.dirtyChannels.delete(ch);
      if (!this.stopped) void this.deps.broker.unsubscribe(e.channel).catch((err: unknown) => this.deps.logger.warn({ err }, 'chat: broker unsubscribe failed'));
    }
  }

  // ---- input from the broker ----

  /**
   * publish takes a publication of a channel (from the broker): duplicates are dropped, a gap in
   * the offsets makes positioned subscribers resubscribe, and the push joins the next batch.
   */
  publish(channel: string, pub: Publication, epoch: string): void {
    const ch = this.channels.get(channel);
    if (!ch) return;
    const offset = pub.offset ?? 0;
    if (offset > 0) {
      if (ch.lastOffset > 0 && (epoch !== ch.epoch || offset > ch.lastOffset + 1)) {
        this.insufficientState(ch);
      } else if (ch.lastOffset > 0 && offset <= ch.lastOffset && epoch === ch.epoch) {
        return; // duplicate
      }
      ch.lastOffset = offset;
      ch.epoch = epoch;
    }
    if (ch.pending.length === 0) ch.pendingSince = performance.now();
    ch.pending.push(encodePush(channel, 'pub', encodePublication(pub)));
    ch.pendingOffsets.push(offset);
    ch.pendingPubs.push(pub);
    this.dirtyChannels.add(ch);
    this.scheduleFanout();
  }

  /** joinLeave delivers a join or leave push to the channel's subscriptions that asked for them. */
  joinLeave(channel: string, type: 'join' | 'leave', info: ClientInfo): void {
    const ch = this.channels.get(channel);
    if (!ch || ch.joinLeaveCount === 0) return;
    const push = encodePush(channel, type, '{"info":' + encodeClientInfo(info) + '}');
    for (const e of ch.entries) {
      if (!e.joinLeave) continue;
      if (e.active) e.client.sendPush(push);
      else e.buffer?.push({ push, offset: 0 });
    }
  }

  /** resync forgets every channel's stream position and makes positioned subscribers resubscribe (the broker may have missed publications). */
  resync(): void {
    for (const ch of [...this.channels.values()]) {
      ch.lastOffset = 0;
      this.insufficientState(ch);
    }
  }

  /** insufficientState makes positioned subscribers of a channel resubscribe (and recover) after a gap. */
  private insufficientState(ch: LocalChannel): void {
    this.deps.logger.warn({ channel: ch.name }, 'chat: publication stream gap, resubscribing positioned clients');
    for (const e of [...ch.entries]) {
      if (!e.positioned) continue;
      void e.client.unsubscribeChannel(ch.name, { code: UnsubscribeCode.insufficientState, reason: 'insufficient state' });
    }
  }
}
