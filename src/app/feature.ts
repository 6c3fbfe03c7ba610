/**
 * The feature descriptor: what one feature tells the composition root about itself. Features
 * import only these types; they never import server.ts, the feature list or each other's wiring.
 */
import type { FastifyInstance } from 'fastify';
import type { Migration } from 'kysely';
import type { Registry } from 'prom-client';
import type { OnairConfig } from '../config/index.js';
import type { UpgradeHandler } from '../http/app.js';
import type { ApiContext } from '../http/routes/context.js';
import type { Logger } from '../observability/logger.js';
import type { Platform } from '../platform/index.js';
import type { Secrets } from '../platform/secrets.js';

/** Role is one of the parts a node can run (config.roles). */
export type Role = OnairConfig['roles'][number];

/** Base is what every feature gets besides its declared deps: the node's shared plumbing. */
export interface Base {
  config: OnairConfig;
  logger: Logger;
  registry: Registry;
  platform: Platform;
  secrets: Secrets;
  /** The one HTTP app; features add their routes at create. */
  http: FastifyInstance;
  /** What route modules share (auth, live info, chat tokens). */
  api: ApiContext;
  addUpgradeHandler(h: UpgradeHandler): void;
  /** Ports the non-HTTP listeners ended up on, set by their start and removed by their stop. */
  ports: Record<string, number>;
}

/** Lifecycle is a created feature's running part; whatever start registers, stop removes. */
export interface Lifecycle {
  start?(): Promise<void>;
  stop?(): Promise<void>;
}

/** Created is what create() gives back: the feature's API (an App field) and its lifecycle. */
export interface Created<S> extends Lifecycle {
  api: S;
}

/**
 * DepSpec names, at run time, how a feature needs each of its deps: a key that is optional in
 * the deps type is 'optional' (the feature runs without it), any other is 'required'.
 */
export type DepSpec<D> = { [K in keyof D]-?: {} extends Pick<D, K> ? 'optional' : 'required' };

/** DepNeed is how a feature needs one dep. */
export type DepNeed = 'required' | 'optional';

/**
 * Feature describes one feature: its name (its App field), the roles it runs in, its database
 * migrations, the other features it needs, and create(), which returns its API and lifecycle
 * (or undefined when this node's config turns it off). create builds objects and registers
 * routes and hooks; sockets, timers and connections open in start, so a failed composition
 * leaves nothing open.
 */
export interface Feature<N extends string, D, S> {
  readonly name: N;
  readonly roles: readonly Role[];
  /** Applied on every node whatever its roles, so one database serves every node. */
  readonly migrations?: Readonly<Record<string, Migration>>;
  readonly deps: DepSpec<D>;
  create(base: Base, deps: D): Created<S> | undefined | Promise<Created<S> | undefined>;
}

/** AnyFeature is a feature of any deps and API type, as the feature list and compose() hold them. */
export interface AnyFeature {
  readonly name: string;
  readonly roles: readonly Role[];
  readonly migrations?: Readonly<Record<string, Migration>>;
  readonly deps: Readonly<Record<string, DepNeed>>;
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each feature's own deps type; compose() builds it from deps
  create(base: Base, deps: any): Created<unknown> | undefined | Promise<Created<unknown> | undefined>;
}

/** ApiOf is the API type a feature's create gives. */
export type ApiOf<F> = F extends { create(...args: never[]): infer R } ? (Awaited<R> extends Created<infer S> | undefined ? S : never) : never;

/** DepsOf is the deps type a feature's create takes. */
export type DepsOf<F> = F extends { create(base: Base, deps: infer D): unknown } ? D : never;

/** AppOf is the typed record of a feature list: one field per feature, undefined where it does not run. */
export type AppOf<L extends readonly AnyFeature[]> = { readonly [F in L[number] as F['name']]: ApiOf<F> | undefined };

/**
 * DepProblems names, at compile time, each dep a feature of the list declares that no feature
 * provides or that has another type than the one provided (never when all fit).
 */
export type DepProblems<L extends readonly AnyFeature[]> = {
  [F in L[number] as F['name']]: {
    [K in keyof DepsOf<F>]-?: K extends keyof AppOf<L>
      ? NonNullable<AppOf<L>[K]> extends NonNullable<DepsOf<F>[K]> ? never : `${F['name']} needs ${K & string} of another type`
      : `${F['name']} needs ${K & string}, which no feature provides`
  }[keyof DepsOf<F>]
}[L[number]['name']];
