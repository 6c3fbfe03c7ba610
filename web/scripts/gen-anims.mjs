#!/usr/bin/env node
// Writes our own small Lottie animations (hearts, rocket, clap) to web/src/effects/anims/*.json.
// Run: node web/scripts/gen-anims.mjs  (the JSON files are committed; this shows how they were made).
import { writeFileSync } from 'node:fs';

const FR = 30;
const st = (k) => ({ a: 0, k });
/** kf builds an animated property from [frame, value] pairs with ease-in-out. */
const kf = (...pairs) => ({
  a: 1,
  k: pairs.map(([t, s], i) => (i < pairs.length - 1 ? { t, s: [].concat(s), i: { x: [0.4], y: [1] }, o: { x: [0.6], y: [0] } } : { t, s: [].concat(s) })),
});
const fill = (rgb) => ({ ty: 'fl', c: st([...rgb, 1]), o: st(100), r: 1 });
const tr = () => ({ ty: 'tr', p: st([0, 0]), a: st([0, 0]), s: st([100, 100]), r: st(0), o: st(100) });
const group = (...items) => ({ ty: 'gr', it: [...items, tr()] });
const path = (v, i, o, c = true) => ({ ty: 'sh', ks: st({ v, i, o, c }) });
const ellipse = (x, y, w, h) => ({ ty: 'el', p: st([x, y]), s: st([w, h]) });
const rect = (x, y, w, h, r = 0) => ({ ty: 'rc', p: st([x, y]), s: st([w, h]), r: st(r) });
const layer = (ind, nm, ks, shapes, op) => ({ ddd: 0, ind, ty: 4, nm, sr: 1, ks: { o: st(100), r: st(0), p: st([100, 100, 0]), a: st([0, 0, 0]), s: st([100, 100, 100]), ...ks }, ao: 0, shapes, ip: 0, op, st: 0, bm: 0 });
const anim = (nm, op, layers) => ({ v: '5.7.4', fr: FR, ip: 0, op, w: 200, h: 200, nm, ddd: 0, assets: [], layers });

// A heart drawn with two cubic lobes, about 60x54 around the origin.
const heartShape = path(
  [[0, 18], [-30, -8], [0, -14], [30, -8]],
  [[12, -10], [0, 16], [-14, -14], [14, -14]],
  [[-12, -10], [0, -16], [14, -14], [0, 16]],
);
const hearts = anim('hearts', 54, [0, 1, 2].map((n) => {
  const x = 100 + (n - 1) * 45;
  const d = n * 6;
  return layer(n + 1, `heart${n}`, {
    p: kf([d, [x, 185, 0]], [d + 45, [x + (n - 1) * 12, 30, 0]]),
    s: kf([d, [30, 30, 100]], [d + 10, [110, 110, 100]], [d + 45, [80, 80, 100]]),
    o: kf([d, 0], [d + 6, 100], [d + 35, 100], [d + 46, 0]),
    r: kf([d, -12 + n * 12], [d + 45, 12 - n * 12]),
  }, [group(heartShape, fill(n === 1 ? [1, 0.18, 0.38] : [1, 0.42, 0.6]))], 54);
}));

// A rocket: body, window, fins and a flickering flame; flies up diagonally.
const flame = group(path([[0, 0], [-9, 22], [0, 38], [9, 22]], [[0, 0], [0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0], [0, 0]]), fill([1, 0.6, 0.1]));
const rocket = anim('rocket', 50, [
  layer(1, 'rocket', {
    p: kf([0, [60, 210, 0]], [50, [150, -30, 0]]),
    r: st(25),
    s: kf([0, [80, 80, 100]], [25, [100, 100, 100]], [50, [90, 90, 100]]),
    o: kf([0, 0], [5, 100], [44, 100], [50, 0]),
  }, [
    // Lottie draws the first shape on top: window, body, fins, flame.
    group(ellipse(0, -15, 14, 14), fill([0.2, 0.6, 1])),
    group(ellipse(0, -5, 30, 70), fill([0.93, 0.94, 0.98])),
    group(path([[-15, 10], [-26, 32], [-10, 24]], [[0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]), fill([1, 0.25, 0.3])),
    group(path([[15, 10], [26, 32], [10, 24]], [[0, 0], [0, 0], [0, 0]], [[0, 0], [0, 0], [0, 0]]), fill([1, 0.25, 0.3])),
    { ...flame, it: [...flame.it.slice(0, -1), { ...tr(), p: st([0, 26]), s: kf([0, [100, 70]], [4, [100, 120]], [8, [100, 70]], [12, [100, 120]], [16, [100, 70]], [20, [100, 120]], [24, [100, 80]], [50, [100, 120]]) }] },
  ], 50),
]);

// A clap: two palms swing together twice; burst lines flash on each hit.
const palm = (side) => group(rect(0, 0, 34, 52, 14), fill([1, 0.8, 0.45]), { ...tr(), p: st([side * 20, 0]), r: kf([0, side * 35], [8, side * 4], [14, side * 30], [22, side * 4], [32, side * 20]) });
const burst = [0, 1, 2, 3, 4].map((n) => {
  const a = (-150 + n * 30) * Math.PI / 180;
  return group(rect(Math.cos(a) * 48, Math.sin(a) * 48, 5, 14, 2), fill([1, 0.85, 0.2]), { ...tr(), r: st(-60 + n * 30) });
});
const clap = anim('clap', 36, [
  layer(1, 'burst', { o: kf([0, 0], [8, 100], [13, 0], [22, 100], [30, 0]), s: kf([0, [70, 70, 100]], [10, [110, 110, 100]], [20, [70, 70, 100]], [24, [115, 115, 100]]) }, burst, 36),
  layer(2, 'hands', { p: st([100, 115, 0]), o: kf([0, 0], [3, 100], [30, 100], [36, 0]) }, [palm(-1), palm(1)], 36),
]);

const dir = new URL('../src/effects/anims/', import.meta.url);
for (const [name, data] of Object.entries({ hearts, rocket, clap })) writeFileSync(new URL(`${name}.json`, dir), JSON.stringify(data) + '\n');
console.log('wrote hearts, rocket, clap');
