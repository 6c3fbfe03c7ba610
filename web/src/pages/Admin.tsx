import { useEffect, useState } from 'preact/hooks';
import { api, getAdminToken, getToken, setAdminToken, tryApi, type Channel, type ChannelList, type Health, type JobList, type JobView, type LiveStreamView, type PublicStream, type PublicUser, type QoeAdmin, type Streams, type UserList, type VodList } from '../api';
import { isStringKey, t, useLang } from '../i18n';
import { errorText } from '../errors';
import { useMe } from '../auth';
import { formatBitrate, formatBytes, formatCount, formatDuration, formatTime, sinceMs, totalViewers } from '../format';
import { NotAvailable, Section } from '../components/common';
import { AdminJobs, type JobFilter } from '../components/AdminJobs';

const POLL_MS = 3000;
const CHART_POINTS = 120;

interface Sample { t: number; viewers: number; bps: number }

/** Admin: streams, channels, users, jobs, recordings and simple charts, from whatever APIs this server has. */
export function Admin() {
  useLang();
  const { me, loaded } = useMe();
  const [adminToken, setTok] = useState<string | null>(getAdminToken());
  const [input, setInput] = useState('');
  const isAdminUser = !!me?.admin;
  const bearer = adminToken ?? (isAdminUser ? getToken() : null);

  if (!loaded) return <main id="main" class="page"><p class="muted">{t('common.loading')}</p></main>;
  if (!bearer) {
    return (
      <main id="main" class="page admin">
        <h1>{t('admin.title')}</h1>
        <p>{t('admin.needToken')}</p>
        <form class="form-row" onSubmit={(e) => { e.preventDefault(); if (input.trim()) { setAdminToken(input.trim()); setTok(input.trim()); } }}>
          <label class="grow">{t('admin.token')}<input type="password" autocomplete="off" value={input} onInput={(e) => setInput((e.target as HTMLInputElement).value)} /></label>
          <button type="submit" class="btn primary">{t('admin.use')}</button>
        </form>
      </main>
    );
  }
  return <AdminBoard bearer={bearer} onForget={adminToken ? () => { setAdminToken(null); setTok(null); } : undefined} />;
}

function AdminBoard({ bearer, onForget }: { bearer: string; onForget?: () => void }) {
  const [health, setHealth] = useState<Health | null>(null);
  const [channels, setChannels] = useState<Channel[] | null>(null);
  const [users, setUsers] = useState<PublicUser[] | null | undefined>(undefined);
  const [jobs, setJobs] = useState<JobView[] | null | undefined>(undefined);
  const [jobCounts, setJobCounts] = useState<Record<string, number>>({});
  const [jobFilter, setJobFilter] = useState<JobFilter | ''>('');
  const [vods, setVods] = useState<VodList | null | undefined>(undefined);
  const [samples, setSamples] = useState<Sample[]>([]);
  const [streams, setStreams] = useState<Record<string, LiveStreamView>>({});
  // Hot-standby backups (role "backup"): the nodes holding one, by channel; they are not rows of their own.
  const [backups, setBackups] = useState<Record<string, string[]>>({});
  const [qoe, setQoe] = useState<QoeAdmin | null | undefined>(undefined);
  const [reload, setReload] = useState(0);
  const [error, setError] = useState<string | null>(null);
  const [now, setNow] = useState(Date.now());

  useEffect(() => {
    let stop = false;
    const opts = { token: bearer };
    const load = async () => {
      try {
        const [h, c, u, j, v, st, q] = await Promise.all([
          fetch('/healthz').then((r) => r.json() as Promise<Health>).catch(() => null),
          api<ChannelList>('GET', '/api/v1/channels?limit=200', opts),
          tryApi<UserList>('GET', '/api/v1/users', opts).catch(() => undefined),
          tryApi<JobList>('GET', jobFilter ? `/api/v1/jobs?state=${jobFilter}` : '/api/v1/jobs', opts).catch(() => undefined),
          tryApi<VodList>('GET', '/api/v1/vods', opts).catch(() => undefined),
          tryApi<Streams>('GET', '/api/v1/streams', opts).catch(() => undefined),
          tryApi<QoeAdmin>('GET', '/api/v1/admin/qoe', opts).catch(() => undefined),
        ]);
        if (stop) return;
        setHealth(h);
        setChannels(c.channels);
        setUsers(u === undefined ? null : u.users);
        setJobs(j === undefined ? null : j.jobs);
        setJobCounts(j?.counts ?? {});
        setVods(v === undefined ? null : v);
        setQoe(q === undefined ? null : q);
        setStreams(Object.fromEntries((st?.streams ?? []).filter((x) => x.role !== 'backup').map((x) => [x.channel, x])));
        const held: Record<string, string[]> = {};
        for (const x of st?.streams ?? []) if (x.role === 'backup') (held[x.channel] ??= []).push(String(x.node ?? ''));
        setBackups(held);
        // Bitrates are operator data: they come from GET /api/v1/streams, not the public channel list.
        const live = c.channels.filter((x) => x.stream?.live);
        const detail = st?.streams ?? [];
        setSamples((s) => [...s.slice(-(CHART_POINTS - 1)), { t: Date.now(), viewers: live.reduce((a, x) => a + totalViewers(x.stream?.viewers), 0), bps: detail.reduce((a, x) => a + (x.bitrateIn || 0), 0) }]);
        setError(null);
      } catch (err) {
        if (!stop) setError(errorText(err));
      }
    };
    void load();
    const id = setInterval(() => void load(), POLL_MS);
    const tick = setInterval(() => setNow(Date.now()), 1000);
    return () => { stop = true; clearInterval(id); clearInterval(tick); };
  }, [bearer, reload, jobFilter]);

  /** jobAction retries or cancels a job, then reloads the lists. */
  const jobAction = async (id: string, action: 'retry' | 'cancel') => {
    try {
      await api('POST', `/api/v1/jobs/${encodeURIComponent(id)}/${action}`, { token: bearer });
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  /** end stops a live stream (the publisher is disconnected), after a confirm. */
  const end = async (channel: string) => {
    if (!confirm(t('live.endConfirm', { channel }))) return;
    try {
      await api('POST', `/api/v1/channels/${encodeURIComponent(channel)}/live/end`, { token: bearer, body: {} });
      setReload((n) => n + 1);
    } catch (err) {
      setError(errorText(err));
    }
  };

  // Live streams: this node's (from the channel list) and, with nodes sharing Redis, every media
  // node's (GET /api/v1/streams lists them with the node that holds each publisher).
  // A stream's row shows the operator's detail (GET /api/v1/streams) when there is one, else the channel's public stream.
  const live: { name: string; id: string; stream?: LiveStreamView; pub?: PublicStream; node?: string }[] = (channels ?? []).filter((c) => c.stream?.live).map((c) => ({ name: c.name, id: c.id, stream: streams[c.name], pub: c.stream, node: streams[c.name]?.node }));
  for (const [name, st] of Object.entries(streams)) {
    if (!live.some((l) => l.name === name)) live.push({ name, id: `stream:${name}`, stream: st, node: st.node });
  }
  const uptime = (since: number | undefined) => (since === undefined ? '–' : formatDuration(now - since));
  const vodList = vods?.vods ?? [];
  const disk = vodList.length ? vodList.reduce((a, v) => a + v.sizeBytes, 0) : undefined;

  return (
    <main id="main" class="page admin">
      <div class="studio-head">
        <h1>{t('admin.title')}</h1>
        {onForget && <button type="button" class="btn small" onClick={onForget}>{t('nav.logout')}</button>}
      </div>
      {error && <p class="error" role="alert">{t('common.error', { msg: error })}</p>}
      <div class="admin-grid">
        <Section title={t('admin.health')} id="health">
          {health ? (
            <dl class="stats">
              <div><dt>{t('admin.status')}</dt><dd>{health.status === 'ok' ? t('admin.ok') : t('admin.degraded')}</dd></div>
              <div><dt>{t('admin.db')}</dt><dd>{health.db === 'ok' ? t('admin.ok') : String(health.db)}</dd></div>
              <div><dt>{t('admin.roles')}</dt><dd>{(health.roles ?? []).map((r) => wordOr(`role.${r}`, r)).join(', ')}</dd></div>
              <div><dt>{t('admin.uptime')}</dt><dd>{formatDuration((health.uptimeSeconds ?? 0) * 1000)}</dd></div>
            </dl>
          ) : <p class="muted">{t('common.loading')}</p>}
        </Section>
        <Section title={t('admin.charts')} id="charts">
          <Chart samples={samples} />
        </Section>
        <Section title={t('admin.streams')} id="streams" class="span-2">
          {live.length === 0 ? <p class="muted">–</p> : (
            <div class="table-wrap"><table>
              <thead><tr><th scope="col">{t('studio.channel')}</th><th scope="col">{t('studio.viewers')}</th><th scope="col">{t('studio.bitrate')}</th><th scope="col">{t('studio.fps')}</th><th scope="col">{t('studio.codec')}</th><th scope="col">{t('admin.uptime')}</th><th scope="col">{t('admin.restreams')}</th><th scope="col"><span class="sr-only">{t('admin.end')}</span></th></tr></thead>
              <tbody>{live.map((c) => (
                <tr key={c.id}>
                  <td><a href={`/watch/${c.name}`}>{c.name}</a></td>
                  <td>{formatCount(totalViewers((c.stream ?? c.pub)?.viewers))} <span class="muted small">{Object.entries((c.stream ?? c.pub)?.viewers ?? {}).map(([p, n]) => `${p}:${String(n)}`).join(' ')}</span></td>
                  <td>{formatBitrate(c.stream?.bitrateIn ?? 0)}</td>
                  <td>{c.stream ? Math.round(c.stream.fps) : '–'}</td>
                  <td>{c.stream?.video?.codecString ?? (c.stream ?? c.pub)?.video?.codec ?? '–'}</td>
                  <td>{uptime(sinceMs((c.stream ?? c.pub)?.since))}</td>
                  <td class="small">{(c.stream?.restreams ?? []).map((r) => `${r.name}: ${t(`restream.state.${r.status.state}`)}`).join(', ') || '–'}
                    {c.stream && <span class="muted"> · {c.stream.publisher.protocol}{c.stream.publisher.clientIp ? ` ${c.stream.publisher.clientIp}` : ''}</span>}
                    {c.node && <span class="muted" data-node={c.node}> · {t('admin.node')} {c.node}</span>}
                    {(backups[c.name] ?? []).length > 0 && <span class="muted" data-backup={c.name}> · {t('admin.backup')} {(backups[c.name] ?? []).join(', ')}</span>}</td>
                  <td><button type="button" class="btn small danger" data-end={c.name} onClick={() => end(c.name)}>{t('admin.end')}</button></td>
                </tr>
              ))}</tbody>
            </table></div>
          )}
        </Section>
        <Section title={t('admin.channels')} id="channels">
          {channels === null ? <p class="muted">{t('common.loading')}</p> : (
            <ul class="plain">{channels.map((c) => <li key={c.id}><a href={`/watch/${c.name}`}>{c.name}</a> <span class="muted small">{c.title} · {formatCount(c.followers ?? 0)} ♥{c.stream?.live ? ` · ${t('common.live')}` : ''}</span></li>)}</ul>
          )}
        </Section>
        <Section title={t('admin.users')} id="users">
          {users === null ? <NotAvailable /> : <ul class="plain">{(users ?? []).slice(0, 100).map((u) => <li key={u.id}>{u.username} {u.admin && <span class="badge badge-admin">{t('chat.badge.admin')}</span>}</li>)}</ul>}
        </Section>
        <Section title={t('admin.jobs')} id="jobs">
          {jobs === null ? <NotAvailable /> : <AdminJobs jobs={jobs ?? []} counts={jobCounts} filter={jobFilter} onFilter={setJobFilter} onAction={(id, a) => void jobAction(id, a)} />}
        </Section>
        <Section title={t('admin.qoe')} id="qoe" class="span-2">
          {qoe === null ? <NotAvailable /> : <QoeCompare answer={qoe} />}
        </Section>
        <Section title={t('admin.recordings')} id="recordings">
          {vods === null ? <NotAvailable /> : (
            <>
              {disk ? <p class="muted small">{formatBytes(disk)}</p> : null}
              <ul class="plain">{vodList.slice(0, 50).map((v) => <li key={v.id}><a href={`/vod/${v.id}`}>{v.title || v.id}</a> <span class="muted small">{v.startedAt ? formatTime(v.startedAt) : ''}{v.sizeBytes ? ` · ${formatBytes(v.sizeBytes)}` : ''}</span></li>)}</ul>
            </>
          )}
        </Section>
      </div>
    </main>
  );
}

/** QoeCompare sets players' QoE beacons side by side by variant and protocol (this node's share). */
function QoeCompare({ answer }: { answer: QoeAdmin | undefined }) {
  const rows = answer?.variants ?? [];
  if (!rows.length) return <p class="muted small">{t('admin.qoeEmpty')}</p>;
  const ms = (v: number | null) => (v === null ? '–' : t('admin.qoeMs', { ms: v }));
  return (
    <div class="table-wrap">
      <table class="qoe" data-qoe-rows={rows.length}>
        <thead><tr>
          <th scope="col">{t('admin.qoeVariant')}</th><th scope="col">{t('player.protocol')}</th><th scope="col">{t('admin.qoeSessions')}</th>
          <th scope="col">{t('admin.qoeStartup')}</th><th scope="col">{t('admin.qoeLatency')}</th><th scope="col">{t('admin.qoeStalls')}</th>
          <th scope="col">{t('admin.qoeStallRatio')}</th><th scope="col">{t('admin.qoeErrors')}</th>
        </tr></thead>
        <tbody>{rows.map((r) => (
          <tr key={`${r.variant}/${r.protocol}`} data-variant={r.variant} data-protocol={r.protocol}>
            <td>{r.variant}{answer?.node === r.variant && <span class="muted small"> · {t('admin.qoeThisNode')}</span>}</td>
            <td>{r.protocol}</td><td>{r.sessions}</td>
            <td>{ms(r.startupP50Ms)} / {ms(r.startupP95Ms)}</td><td>{ms(r.latencyP50Ms)} / {ms(r.latencyP95Ms)}</td>
            <td>{r.stalls}</td><td>{r.stallRatio === null ? '–' : `${(r.stallRatio * 100).toFixed(2)} %`}</td><td>{r.errors}</td>
          </tr>
        ))}</tbody>
      </table>
      <p class="muted small">{t('admin.qoeNote')}</p>
    </div>
  );
}

/** wordOr words a key built from server data (job types and states), or shows the raw value for one the app does not know. */
function wordOr(key: string, raw: string): string {
  return isStringKey(key) ? t(key) : raw;
}

/** Chart draws total viewers and ingest bitrate over time as inline SVG. */
function Chart({ samples }: { samples: Sample[] }) {
  const w = 320;
  const h = 120;
  const last = samples[samples.length - 1];
  if (samples.length < 2 || !last) return <p class="muted small">…</p>;
  const path = (vals: number[]) => {
    const max = Math.max(...vals, 1);
    return vals.map((v, i) => `${i ? 'L' : 'M'}${((i / (vals.length - 1)) * w).toFixed(1)},${(h - 6 - (v / max) * (h - 12)).toFixed(1)}`).join(' ');
  };
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${w} ${h}`} role="img" aria-label={`${t('studio.viewers')} ${last.viewers}, ${t('studio.bitrate')} ${formatBitrate(last.bps)}`} preserveAspectRatio="none">
        <path d={path(samples.map((s) => s.viewers))} class="line-viewers" fill="none" stroke-width="2" vector-effect="non-scaling-stroke" />
        <path d={path(samples.map((s) => s.bps))} class="line-bitrate" fill="none" stroke-width="2" vector-effect="non-scaling-stroke" />
      </svg>
      <figcaption><span class="key key-viewers" /> {t('studio.viewers')} {last.viewers} <span class="key key-bitrate" /> {t('studio.bitrate')} {formatBitrate(last.bps)}</figcaption>
    </figure>
  );
}
