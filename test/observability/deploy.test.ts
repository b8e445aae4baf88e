import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../services/core/metrics';

const DEPLOY = 'deploy';
const promtool = (...args: string[]) =>
  execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

/** Metric names a PromQL expression refers to (identifiers followed by `{`, `[` or a space/paren, minus functions and labels). */
function metricNames(expr: string): string[] {
  const withoutStrings = expr
    .replace(/"[^"]*"/g, '""')
    .replace(/\{[^}]*\}/g, '{}')
    .replace(/\[[^\]]*\]/g, '[]');
  const words = withoutStrings.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
  const keywords = new Set([
    'sum',
    'by',
    'max',
    'min',
    'rate',
    'increase',
    'histogram_quantile',
    'clamp_min',
    'le',
    'without',
    'avg',
    'count',
    'e',
  ]);
  return words.filter((w) => !keywords.has(w) && /_/.test(w));
}

/** Every name the registry exposes, histogram and counter series included. */
async function exposedNames(): Promise<Set<string>> {
  const metrics = createMetrics();
  // The deployment gauges need a database to collect; their names are declared here so a rename breaks this test.
  const deploymentGauges = [
    'nezuko_bots',
    'nezuko_queue_jobs',
    'nezuko_poller_lag_seconds',
    'nezuko_bot_heartbeat_age_seconds',
  ];
  const source = readFileSync('services/api/deployment-metrics.ts', 'utf8');
  for (const name of deploymentGauges) expect(source).toContain(`name: '${name}'`);
  const names = new Set(deploymentGauges);
  for (const metric of await metrics.registry.getMetricsAsJSON()) {
    names.add(metric.name);
    for (const suffix of ['_bucket', '_sum', '_count']) names.add(`${metric.name}${suffix}`);
  }
  return names;
}

describe('deploy/: Prometheus and Grafana', () => {
  it('promtool accepts the Prometheus configuration and the alert rules', () => {
    expect(promtool('check', 'config', path.join(DEPLOY, 'prometheus/prometheus.yml'))).toContain('SUCCESS');
    expect(promtool('check', 'rules', path.join(DEPLOY, 'prometheus/alerts.yml'))).toContain('SUCCESS: 8 rules found');
  });

  it("the alert rules' unit tests pass: a code error in a job fires NezukoJobCodeError at once", () => {
    expect(promtool('test', 'rules', path.join(DEPLOY, 'prometheus/alerts.test.yml'))).toContain('SUCCESS');
  });

  it('every metric the dashboards and alert rules query exists in the registry', async () => {
    const exposed = await exposedNames();
    const expressions: string[] = [];
    for (const file of readdirSync(path.join(DEPLOY, 'grafana/dashboards'))) {
      const dashboard = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana/dashboards', file), 'utf8'));
      for (const panel of dashboard.panels) for (const target of panel.targets) expressions.push(target.expr);
    }
    const rules = readFileSync(path.join(DEPLOY, 'prometheus/alerts.yml'), 'utf8');
    expressions.push(...[...rules.matchAll(/expr: (\|\n(?:\s{10}.*\n)+|.*)/g)].map((m) => m[1]!));
    expect(expressions.length).toBeGreaterThan(20);
    const missing = [...new Set(expressions.flatMap(metricNames))].filter((name) => !exposed.has(name));
    expect(missing).toEqual([]);
  });

  it('the overview dashboard has the panels operators look for', () => {
    const overview = JSON.parse(readFileSync(path.join(DEPLOY, 'grafana/dashboards/nezuko-overview.json'), 'utf8'));
    const titles = overview.panels.map((p: { title: string }) => p.title.toLowerCase()).join('|');
    for (const topic of [
      'verifications/s',
      'success rate',
      'p95 verification latency',
      'telegram calls',
      'breaker',
      'queue depth',
      'lag',
      'bots by status',
      'cache hit',
      'exports and retention',
    ]) {
      expect(titles).toContain(topic.toLowerCase());
    }
  });
});

describe('docker-compose.yml', () => {
  it('is a valid compose file (docker-compose config -q)', () => {
    expect(() => execFileSync('docker-compose', ['config', '-q'], { stdio: ['ignore', 'pipe', 'pipe'] })).not.toThrow();
  });

  it('binds every published port to 127.0.0.1 and runs Redis without eviction', () => {
    const config = execFileSync('docker-compose', ['config'], { encoding: 'utf8' });
    const published = [...config.matchAll(/^\s+- (\S+:)?\d+:\d+(\/tcp)?$/gm)].map(
      (m) => m[1]?.slice(0, -1) ?? 'all interfaces',
    );
    expect(published.length).toBeGreaterThanOrEqual(4);
    expect(new Set(published)).toEqual(new Set(['127.0.0.1']));
    expect(config).toMatch(/maxmemory-policy[\s\S]{0,20}noeviction/);
  });
});
