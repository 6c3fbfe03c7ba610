/**
 * compose builds a node's App from a feature list: the features its roles run, created in
 * dependency order, started in that order and stopped in reverse.
 */
import type { Migration } from 'kysely';
import type { AnyFeature, AppOf, Base, Created, Role } from './feature.js';

/** CompositionError is a feature list that cannot be composed (missing dep, loop, duplicate name). */
export class CompositionError extends Error {
  override name = 'CompositionError';
}

/** Composed is a built App with its symmetric lifecycle. */
export interface Composed<A> {
  readonly app: A;
  /** order is the names of the features created here, in creation (and start) order. */
  readonly order: readonly string[];
  /** start starts every feature in order; when one fails, the ones already started stop, in reverse. */
  start(): Promise<void>;
  /** stop stops the started features in reverse order; failures are logged and the rest still stop. */
  stop(): Promise<void>;
}

/** activeFeatures picks the features that run with these roles. */
function activeFeatures(features: readonly AnyFeature[], roles: readonly Role[]): AnyFeature[] {
  return features.filter((f) => f.roles.some((r) => roles.includes(r)));
}

/**
 * creationOrder sorts the active features so every dep comes before its user; features with no
 * order between them keep their list order. A required dep that does not run here is an error
 * naming both features.
 */
export function creationOrder(features: readonly AnyFeature[], roles: readonly Role[]): AnyFeature[] {
  const byName = new Map<string, AnyFeature>();
  for (const f of features) {
    if (byName.has(f.name)) throw new CompositionError(`two features are named "${f.name}"`);
    byName.set(f.name, f);
  }
  const active = new Set(activeFeatures(features, roles).map((f) => f.name));
  const order: AnyFeature[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (f: AnyFeature, path: string[]) => {
    const s = state.get(f.name);
    if (s === 'done') return;
    if (s === 'visiting') throw new CompositionError(`features depend on each other in a loop: ${[...path, f.name].join(' → ')}`);
    state.set(f.name, 'visiting');
    for (const [dep, how] of Object.entries(f.deps)) {
      const d = byName.get(dep);
      if (!d) throw new CompositionError(`feature "${f.name}" needs feature "${dep}", which is not in the feature list`);
      if (!active.has(dep)) {
        if (how === 'required') {
          throw new CompositionError(`feature "${f.name}" needs feature "${dep}", which runs with roles [${d.roles.join(', ')}] and this node runs [${roles.join(', ')}]`);
        }
        continue;
      }
      visit(d, [...path, f.name]);
    }
    state.set(f.name, 'done');
    order.push(f);
  };
  for (const f of features) if (active.has(f.name)) visit(f, []);
  return order;
}

/** collectMigrations merges every feature's migrations (all of them, whatever the roles), refusing a name used twice. */
export function collectMigrations(features: readonly AnyFeature[], base: Readonly<Record<string, Migration>> = {}): Record<string, Migration> {
  const all: Record<string, Migration> = { ...base };
  for (const f of features) {
    for (const [name, m] of Object.entries(f.migrations ?? {})) {
      if (name in all) throw new CompositionError(`migration "${name}" of feature "${f.name}" is already defined`);
      all[name] = m;
    }
  }
  return all;
}

/** compose creates the features this node's roles run; nothing starts until start(). */
export async function compose<const L extends readonly AnyFeature[]>(features: L, base: Base, roles: readonly Role[] = base.config.roles): Promise<Composed<AppOf<L>>> {
  const app: Record<string, unknown> = {};
  for (const f of features) app[f.name] = undefined;
  const created: { name: string; c: Created<unknown> }[] = [];
  const order = creationOrder(features, roles);
  
  for (const f of order) {
    const given: Record<string, unknown> = {};
    for (const [dep, how] of Object.entries(f.deps)) {
      const value = app[dep];
      if (value === undefined && how === 'required') {
        throw new CompositionError(`feature "${f.name}" needs feature "${dep}", which this node's configuration turns off`);
      }
      if (value !== undefined) given[dep] = value;
    }
    const c = await f.create(base, given);
    if (!c) continue;
    app[f.name] = c.api;
    created.push({ name: f.name, c });
  }

  let started: typeof created = [];
  const stopStarted = async () => {
    const running = started;
    started = [];
    for (const { name, c } of running.reverse()) {
      await c.stop?.().catch((err: unknown) => base.logger.warn({ err, feature: name }, 'feature stop failed'));
    }
  };
  return {
    app: app as AppOf<L>,
    order: created.map((x) => x.name),
    async start() {
      for (const x of created) {
        try {
          await x.c.start?.();
        } catch (err) {
          await stopStarted();
          throw err;
        }
        started.push(x);
        base.logger.debug({ feature: x.name }, 'feature started');
      }
    },
    stop: stopStarted,
  };
}
