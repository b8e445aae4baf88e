// The overview page: the statistics snapshot as cards and charts, refreshed every 10 s.
import { api } from '../api.js';
import { donut, horizontalBars, stackedBars } from '../charts.js';
import { $, h, state, pct, num, ms, ago, every } from '../ui.js';

export async function renderOverview(view) {
  const cards = h('div.cards', { id: 'stat-cards' });
  const updated = h('span.muted', { id: 'snapshot-age' }, 'loading…');
  const chart = (id, title, note) =>
    h(
      'section.card.chart-card',
      { 'aria-labelledby': `${id}-title` },
      h('h2', { id: `${id}-title` }, title),
      note ? h('p.chart-note', {}, note) : null,
      h('div.chart', { id, dataset: { hasData: 'false' } }),
    );
  view.append(
    h('div.page-head', {}, h('h1', {}, 'Overview'), updated),
    cards,
    h(
      'div.charts',
      {},
      chart('chart-activity', 'Verifications over time', 'Per hour, last 24 hours, by outcome'),
      chart('chart-success', 'Success rate', 'Decisions in the last 24 hours'),
      chart('chart-latency', 'Decision latency', 'Last 24 hours'),
      chart('chart-cache', 'Membership cache', 'Answers served from the cache, last 24 hours'),
      chart('chart-top-groups', 'Top groups', 'Most decisions in the last 7 days'),
      chart('chart-bots', 'Bots by status', 'Right now'),
    ),
  );
  const refresh = async () => {
    const [dash, latency] = await Promise.all([
      api('/stats/dashboard'),
      api('/stats/charts/latency-distribution', { query: { period: 'last24h' } }),
    ]);
    if (!dash.available || !dash.data) {
      updated.textContent = 'Waiting for the first statistics snapshot…';
      state.timers.push(setTimeout(() => void refresh().catch(() => {}), 2_000));
      return;
    }
    const d = dash.data;
    updated.textContent = `Snapshot ${ago(dash.generatedAt)} · refreshes every 10 s`;
    const p = d.last24h;
    // Snapshots written before guard-bot counts existed have none.
    const guard = {
      atOnce: p.guardAtOnce ?? 0,
      webApp: p.guardWebApp ?? 0,
      timeout: p.guardTimeout ?? 0,
      queued: p.guardQueued ?? 0,
    };
    const bots = Object.values(d.botsByStatus).reduce((a, b) => a + b, 0);
    const protectedGroups = d.bots.reduce((a, b) => a + b.protectedGroups, 0);
    const stat = (label, value, sub) =>
      h(
        'div.card.stat',
        {},
        h('div.stat-label', {}, label),
        h('div.stat-value', {}, value),
        sub ? h('div.stat-sub', {}, sub) : null,
      );
    cards.replaceChildren(
      stat('Decisions (24 h)', num(p.total), `${num(d.today.total)} today`),
      stat('Success rate', pct(p.successRate), `${num(p.errors)} errors`),
      stat('Already subscribed', pct(p.passRate), 'verified or approved'),
      stat('Cache hit rate', pct(p.cacheHitRate), `${num(p.cacheHits)} hits`),
      stat('Latency p95', ms(p.latencyPercentilesMs.p95), `p50 ${ms(p.latencyPercentilesMs.p50)}`),
      stat(
        'Guard-bot requests (24 h)',
        num(guard.atOnce + guard.webApp + guard.timeout + guard.queued),
        `${num(guard.atOnce)} at once · ${num(guard.webApp)} via Web App · ${num(guard.timeout)} declined · ${num(guard.queued)} to admins`,
      ),
      stat(
        'Bots running',
        `${num(d.botsByStatus.running ?? 0)} / ${num(bots)}`,
        `${num(protectedGroups)} protected groups`,
      ),
    );

    const series = d.series.hourly24h;
    const hourLabel = (iso) => `${String(new Date(iso).getHours()).padStart(2, '0')}h`;
    const statuses = [
      ['verified', 'Verified'],
      ['restricted', 'Muted'],
      ['approved', 'Approved'],
      ['declined', 'Declined'],
      ['skipped', 'Skipped'],
      ['errors', 'Errors'],
    ];
    stackedBars($('#chart-activity'), {
      label: 'Verifications per hour over the last 24 hours',
      labels: series.map((s) => hourLabel(s.hour)),
      series: statuses.map(([key, name]) => ({ name, cls: `s-${key}`, values: series.map((s) => s[key] ?? 0) })),
      tickEvery: 4,
    });
    const completed = p.total - p.errors;
    donut($('#chart-success'), {
      label: 'Success rate over the last 24 hours',
      items: [
        { label: 'Completed', value: completed, cls: 's-success' },
        { label: 'Errors', value: p.errors, cls: 's-errors' },
      ],
      center: pct(p.successRate),
      centerLabel: 'success',
    });
    stackedBars($('#chart-latency'), {
      label: `Decision latency distribution; p50 ${ms(latency.percentiles?.p50)}, p95 ${ms(latency.percentiles?.p95)}`,
      labels: (latency.data ?? []).map((b) => b.bucket.replace('<=', '≤')),
      series: [{ name: 'Decisions', cls: 's-latency', values: (latency.data ?? []).map((b) => b.count) }],
      tickEvery: 2,
    });
    $('#chart-latency').append(
      h(
        'p.chart-note',
        {},
        `p50 ${ms(latency.percentiles?.p50)} · p90 ${ms(latency.percentiles?.p90)} · p95 ${ms(latency.percentiles?.p95)} · p99 ${ms(latency.percentiles?.p99)}`,
      ),
    );
    donut($('#chart-cache'), {
      label: 'Membership cache hits over the last 24 hours',
      items: [
        { label: 'Hits', value: p.cacheHits, cls: 's-hits' },
        { label: 'Misses', value: Math.max(0, p.total - p.cacheHits), cls: 's-misses' },
      ],
      center: pct(p.cacheHitRate),
      centerLabel: 'hit rate',
    });
    horizontalBars($('#chart-top-groups'), {
      label: 'Groups with the most decisions in the last 7 days',
      items: d.topGroups.map((g) => ({ label: g.title ?? g.chatId, value: g.total, cls: 's-primary' })),
      empty: 'No decisions in the last 7 days',
    });
    horizontalBars($('#chart-bots'), {
      label: 'Bots by status',
      items: Object.entries(d.botsByStatus).map(([status, count]) => ({
        label: status,
        value: count,
        cls: `s-${status}`,
      })),
      empty: 'No bots',
    });
    // While a chart still waits for its first data (a fresh install), look again sooner than every 10 s.
    if (document.querySelector('.chart[data-has-data="false"]'))
      state.timers.push(setTimeout(() => void refresh().catch(() => {}), 2_000));
  };
  await refresh();
  every(10_000, refresh);
}
