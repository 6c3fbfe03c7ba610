/** Framing: pages must refuse to be framed by other sites, overlays must stay embeddable. */
import type { Attack } from '../lib/context.js';
import { http } from '../lib/net.js';

const frameAncestorsOf = (csp: string | null) => /(?:^|;)\s*frame-ancestors\s+([^;]*)/.exec(csp ?? '')?.[1]?.trim();

export const framingHeaders: Attack = {
  name: 'framing-headers',
  what: "pages carry CSP frame-ancestors 'self' and X-Frame-Options DENY; overlays carry a CSP without a framing rule",
  async run(ctx) {
    const ch = ctx.accounts.legit.channel;
    const problems: string[] = [];
    for (const path of ['/', `/watch/${ch}`, '/studio', '/admin']) {
      const r = await http(`${ctx.base}${path}`, { headers: ctx.attackerHeaders() });
      if (r.status !== 200) { problems.push(`${path}: ${r.status}`); continue; }
      const csp = r.headers.get('content-security-policy');
      if (frameAncestorsOf(csp) !== "'self'") problems.push(`${path}: frame-ancestors ${frameAncestorsOf(csp) ?? 'missing'}`);
      if (!/script-src 'self'/.test(csp ?? '') || !/object-src 'none'/.test(csp ?? '')) problems.push(`${path}: CSP without script-src 'self' / object-src 'none'`);
      if (r.headers.get('x-frame-options')?.toUpperCase() !== 'DENY') problems.push(`${path}: X-Frame-Options ${r.headers.get('x-frame-options') ?? 'missing'}`);
    }
    const overlay = await http(`${ctx.base}/overlay/${ch}`, { headers: ctx.attackerHeaders() });
    if (overlay.status !== 200) problems.push(`/overlay: ${overlay.status}`);
    else {
      if (!overlay.headers.get('content-security-policy')) problems.push('/overlay: no CSP');
      if (frameAncestorsOf(overlay.headers.get('content-security-policy'))) problems.push('/overlay: has frame-ancestors (OBS could not embed it)');
      if (overlay.headers.get('x-frame-options')) problems.push('/overlay: has X-Frame-Options');
    }
    return { refused: problems.length === 0, detail: problems.length ? problems.join('; ') : 'pages: frame-ancestors \'self\' + DENY; overlay: embeddable with a CSP' };
  },
};
