/**
 * AdminJobs: the admin page's job panel — a state filter with counts, each job's live progress
 * (the page polls), retry for failed or cancelled jobs and cancel for queued or running ones.
 */
import type { JobView } from '../api';
import { isStringKey, t, useLang } from '../i18n';

/** JOB_FILTERS are the states the filter offers, as the server names them (src/platform/jobs/schema.ts). */
export const JOB_FILTERS = ['queued', 'running', 'done', 'failed', 'cancelled', 'skipped'] as const;
export type JobFilter = (typeof JOB_FILTERS)[number];

const RETRYABLE = new Set(['failed', 'cancelled']);
const CANCELLABLE = new Set(['queued', 'running']);

/** word words a job's state or type from the server; one this page does not know is shown as sent. */
function word(key: string, raw: string): string {
  return isStringKey(key) ? t(key) : raw;
}
const stateWord = (state: string) => word(`job.state.${state}`, state);
const typeWord = (type: string) => word(`job.type.${type}`, type);

export function AdminJobs(props: {
  jobs: JobView[];
  counts: Record<string, number>;
  filter: JobFilter | '';
  onFilter(f: JobFilter | ''): void;
  onAction(id: string, action: 'retry' | 'cancel'): void;
}) {
  useLang();
  const total = Object.values(props.counts).reduce((a, n) => a + n, 0);
  return (
    <div class="admin-jobs">
      <label class="inline-label">{t('admin.jobFilter')}
        <select name="job-state" value={props.filter} onChange={(e) => props.onFilter((e.target as HTMLSelectElement).value as JobFilter | '')}>
          <option value="">{t('admin.jobAll')} ({total})</option>
          {JOB_FILTERS.map((s) => <option key={s} value={s}>{stateWord(s)} ({props.counts[s] ?? 0})</option>)}
        </select>
      </label>
      {props.jobs.length === 0 ? <p class="muted" data-name="jobs-empty">{t('admin.jobsEmpty')}</p> : (
        <ul class="jobs">{props.jobs.slice(0, 50).map((j) => {
          const pct = Math.round(Math.max(0, Math.min(1, j.progress)) * 100);
          return (
            <li key={j.id} data-job={j.id} data-state={j.state}>
              <span data-job-type={j.type}>{typeWord(j.type)} <span class={`muted small state-${j.state}`} data-job-state={j.state}>{stateWord(j.state)}{j.state === 'running' ? ` · ${pct}%` : ''}</span></span>
              <progress max={100} value={pct} aria-label={`${typeWord(j.type)} ${pct}%`} />
              {j.state === 'skipped' && <span class="muted small">{t('admin.jobSkippedWhy')}</span>}
              {j.state === 'failed' && j.error && <span class="muted small" title={j.error}>{t('admin.jobFailedWhy')}</span>}
              {RETRYABLE.has(j.state) && <button type="button" class="btn small" data-action="retry" onClick={() => props.onAction(j.id, 'retry')}>{t('admin.jobRetry')}</button>}
              {CANCELLABLE.has(j.state) && <button type="button" class="btn small" data-action="cancel" onClick={() => props.onAction(j.id, 'cancel')}>{t('admin.jobCancel')}</button>}
            </li>
          );
        })}</ul>
      )}
    </div>
  );
}
