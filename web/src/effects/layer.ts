/**
 * effects/layer.ts: the effect layer the watch page and the overlay share.
 * Aggregated reaction counts come in (one publication per server window); this
 * draws confetti (party, money rain) with canvas-confetti and our own Lottie
 * animations (hearts, rocket, clap), scaled by count within a fixed budget.
 */

import heartsData from './anims/hearts.json';
import rocketData from './anims/rocket.json';
import clapData from './anims/clap.json';

export type EffectName = 'party' | 'hearts' | 'money' | 'rocket' | 'clap';

/** EFFECTS lists the built-in reactions with their emoji, in button order. */
export const EFFECTS: { name: EffectName; emoji: string }[] = [
  { name: 'party', emoji: '🎉' },
  { name: 'hearts', emoji: '❤️' },
  { name: 'money', emoji: '💰' },
  { name: 'rocket', emoji: '🚀' },
  { name: 'clap', emoji: '👏' },
];

const ALIASES: Record<string, EffectName> = {
  party: 'party', confetti: 'party', '🎉': 'party',
  hearts: 'hearts', heart: 'hearts', '❤️': 'hearts', '❤': 'hearts',
  money: 'money', moneyrain: 'money', money_rain: 'money', '💰': 'money',
  rocket: 'rocket', '🚀': 'rocket',
  clap: 'clap', '👏': 'clap',
};

/** Budgets: particles in flight and Lottie players alive at once, whatever the counts. */
export const PARTICLE_BUDGET = 600;
export const LOTTIE_BUDGET = 8;
const PARTICLE_LIFE_MS = 3500;
const MONEY_RAIN_MS = 3000;

/** intensity maps an aggregated count to 0..1 on a log scale (1 reaction ≈ 0.15, 1000+ ≈ 1). */
export function intensity(count: number): number {
  if (count <= 0) return 0;
  return Math.min(1, 0.15 + Math.log10(count) / 3 * 0.85);
}

type ConfettiFn = ((opts: Record<string, unknown>) => Promise<undefined> | null) & { reset(): void };
type LottieApi = { loadAnimation(p: Record<string, unknown>): { addEventListener(e: string, f: () => void): void; destroy(): void } };

export interface EffectLayerOptions {
  /** Draw nothing but a small counter when the viewer asked for reduced motion. */
  reducedMotion?: boolean;
}

/** EffectLayer owns one canvas and a Lottie box inside a container (positioned by the caller). */
export class EffectLayer {
  private readonly canvas: HTMLCanvasElement;
  private readonly lottieBox: HTMLDivElement;
  private readonly calm: HTMLDivElement;
  private confetti?: ConfettiFn;
  private lottie?: LottieApi;
  private loading?: Promise<void>;
  private inFlight: { n: number; until: number }[] = [];
  private lotties = 0;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  private destroyed = false;
  readonly reducedMotion: boolean;
  /** Counts drawn so far, for tests and the studio preview. */
  readonly played: Record<string, number> = {};

  constructor(private readonly container: HTMLElement, opts: EffectLayerOptions = {}) {
    this.reducedMotion = opts.reducedMotion ?? (typeof matchMedia === 'function' && matchMedia('(prefers-reduced-motion: reduce)').matches);
    this.canvas = document.createElement('canvas');
    this.canvas.className = 'fx-canvas';
    this.canvas.setAttribute('aria-hidden', 'true');
    this.lottieBox = document.createElement('div');
    this.lottieBox.className = 'fx-lottie';
    this.lottieBox.setAttribute('aria-hidden', 'true');
    this.calm = document.createElement('div');
    this.calm.className = 'fx-calm';
    this.calm.setAttribute('aria-hidden', 'true');
    container.append(this.canvas, this.lottieBox, this.calm);
    container.dataset.fxPlayed = '0';
  }

  private async load(): Promise<void> {
    this.loading ??= (async () => {
      const [c, l] = await Promise.all([import('canvas-confetti'), import('lottie-web/build/player/lottie_light')]);
      const create = (c.default as unknown as { create: (canvas: HTMLCanvasElement, o: Record<string, unknown>) => ConfettiFn }).create;
      this.confetti = create(this.canvas, { resize: true, useWorker: false, disableForReducedMotion: false });
      this.lottie = l.default ?? l;
    })();
    return this.loading;
  }

  /** budgetLeft is how many more particles may start now. */
  private budgetLeft(): number {
    const now = Date.now();
    this.inFlight = this.inFlight.filter((x) => x.until > now);
    return PARTICLE_BUDGET - this.inFlight.reduce((a, x) => a + x.n, 0);
  }

  private take(want: number): number {
    const n = Math.max(0, Math.min(want, this.budgetLeft()));
    if (n > 0) this.inFlight.push({ n, until: Date.now() + PARTICLE_LIFE_MS });
    return n;
  }

  private later(ms: number, f: () => void) {
    const t = setTimeout(() => { this.timers.delete(t); if (!this.destroyed) f(); }, ms);
    this.timers.add(t);
  }

  /** play draws one aggregated window: effect name → count. */
  async play(counts: Record<string, number>): Promise<void> {
    const list = Object.entries(counts).map(([k, v]) => [ALIASES[k] ?? ALIASES[k.toLowerCase()], v] as const).filter((x): x is readonly [EffectName, number] => !!x[0] && x[1] > 0);
    if (!list.length || this.destroyed) return;
    for (const [name, n] of list) this.played[name] = (this.played[name] ?? 0) + n;
    this.container.dataset.fxPlayed = String(Object.values(this.played).reduce((a, b) => a + b, 0));
    if (this.reducedMotion) return this.showCalm(list);
    await this.load();
    if (this.destroyed) return;
    for (const [name, n] of list) {
      const k = intensity(n);
      if (name === 'party') this.party(k);
      else if (name === 'money') this.money(k);
      else this.lottieBurst(name, k);
    }
  }

  private party(k: number) {
    const count = this.take(Math.round(40 + 260 * k));
    if (!count || !this.confetti) return;
    const half = Math.ceil(count / 2);
    void this.confetti({ particleCount: half, angle: 60, spread: 55 + 25 * k, origin: { x: 0, y: 0.8 }, startVelocity: 45, ticks: 200 });
    void this.confetti({ particleCount: count - half, angle: 120, spread: 55 + 25 * k, origin: { x: 1, y: 0.8 }, startVelocity: 45, ticks: 200 });
  }

  private money(k: number) {
    // Green notes falling from the top for MONEY_RAIN_MS, in small waves.
    const waves = 6;
    const per = Math.round((20 + 120 * k) / waves);
    for (let i = 0; i < waves; i++) {
      this.later((i * MONEY_RAIN_MS) / waves, () => {
        const n = this.take(per);
        if (!n || !this.confetti) return;
        void this.confetti({
          particleCount: n, angle: 270, spread: 180, startVelocity: 8, gravity: 0.9, drift: 0, ticks: 260, scalar: 1.3,
          origin: { x: Math.random(), y: -0.1 }, shapes: ['square'], colors: ['#1b9e4b', '#2ecc71', '#a5e887', '#ffd54f'],
        });
      });
    }
  }

  private lottieBurst(name: EffectName, k: number) {
    const data = name === 'hearts' ? heartsData : name === 'rocket' ? rocketData : clapData;
    const copies = Math.max(1, Math.round(1 + 3 * k));
    for (let i = 0; i < copies; i++) {
      if (this.lotties >= LOTTIE_BUDGET || !this.lottie) return;
      this.lotties++;
      const el = document.createElement('div');
      el.className = 'fx-anim';
      el.style.left = `${10 + Math.random() * 70}%`;
      el.style.bottom = `${5 + Math.random() * 30}%`;
      this.lottieBox.append(el);
      let done = false;
      const finish = () => {
        if (done) return;
        done = true;
        this.lotties--;
        anim.destroy();
        el.remove();
      };
      const anim = this.lottie.loadAnimation({ container: el, renderer: 'svg', loop: false, autoplay: true, animationData: JSON.parse(JSON.stringify(data)) });
      anim.addEventListener('complete', finish);
      this.later(4000, finish);
    }
  }

  private showCalm(list: readonly (readonly [EffectName, number])[]) {
    // Reduced motion: a quiet counter instead of particles.
    const chip = document.createElement('span');
    chip.className = 'fx-chip';
    chip.textContent = list.map(([name, n]) => `${EFFECTS.find((e) => e.name === name)?.emoji ?? ''} ×${n}`).join('  ');
    this.calm.replaceChildren(chip);
    this.later(2500, () => { if (chip.isConnected) chip.remove(); });
  }

  destroy(): void {
    this.destroyed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.confetti?.reset();
    this.canvas.remove();
    this.lottieBox.remove();
    this.calm.remove();
  }
}
