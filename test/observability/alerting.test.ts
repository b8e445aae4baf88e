import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { afterAll, describe, expect, it } from 'vitest';
import { composeConfig } from '../support/compose';
import { waitFor } from '../support/process';
import { freePort } from '../support/redis-server';

/**
 * Alerts that reach someone: deploy/prometheus/alerts.yml → Prometheus → Alertmanager (configured from the
 * environment by deploy/alertmanager/render-config.sh, as the compose service does) → a webhook. The servers
 * are the real ones, from Debian's packages (prometheus, prometheus-alertmanager), on scratch ports.
 */
const RENDER = 'deploy/alertmanager/render-config.sh';
const scratch = mkdtempSync(path.join(os.tmpdir(), 'nezuko-alerting-'));
const children: ChildProcess[] = [];
const servers: http.Server[] = [];
afterAll(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  await Promise.all(
    children.map((c) =>
      c.exitCode !== null || c.signalCode !== null ? undefined : new Promise((r) => c.once('exit', r)),
    ),
  );
  for (const server of servers) server.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** render-config.sh with exactly these variables; its stdout, stderr and exit code. */
function render(env: Record<string, string>) {
  const result = spawnSync('sh', [RENDER], { env: { PATH: process.env.PATH, ...env }, encoding: 'utf8' });
  return { status: result.status, config: result.stdout, error: result.stderr.trim() };
}

function amtoolCheck(config: string): string {
  const file = path.join(scratch, `check-${Math.random().toString(36).slice(2)}.yml`);
  writeFileSync(file, config);
  return execFileSync('amtool', ['check-config', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

async function listen(handler: http.RequestListener): Promise<number> {
  const server = http.createServer(handler);
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr!.on('data', (d) => (errors = (errors + d).slice(-4000)));
  Object.defineProperty(child, 'errors', { get: () => errors });
  children.push(child);
  return child;
}

describe('Alertmanager configuration from the environment', () => {
  it('amtool accepts it with a webhook, with e-mail as well, and with e-mail alone', () => {
    const webhook = render({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/nezuko?token="x"' });
    expect(webhook.status).toBe(0);
    expect(amtoolCheck(webhook.config)).toContain('SUCCESS');
    const receivers = parse(webhook.config).receivers;
    expect(receivers).toEqual([
      {
        name: 'operators',
        webhook_configs: [{ url: 'https://hooks.example.com/nezuko?token="x"', send_resolved: true }],
      },
    ]);

    const both = render({
      ALERT_WEBHOOK_URL: 'https://hooks.example.com/nezuko',
      ALERT_EMAIL_TO: 'ops@example.com',
      ALERT_EMAIL_FROM: 'nezuko@example.com',
      ALERT_SMTP_SMARTHOST: 'smtp.example.com:587',
      ALERT_SMTP_USERNAME: 'nezuko',
      ALERT_SMTP_PASSWORD: 'p\\a"ss',
    });
    expect(both.status).toBe(0);
    expect(amtoolCheck(both.config)).toContain('SUCCESS');
    expect(parse(both.config).receivers[0].email_configs).toEqual([
      {
        to: 'ops@example.com',
        from: 'nezuko@example.com',
        smarthost: 'smtp.example.com:587',
        send_resolved: true,
        auth_username: 'nezuko',
        auth_password: 'p\\a"ss',
      },
    ]);

    const emailOnly = render({
      ALERT_EMAIL_TO: 'ops@example.com',
      ALERT_EMAIL_FROM: 'nezuko@example.com',
      ALERT_SMTP_SMARTHOST: 'smtp.example.com:25',
    });
    expect(emailOnly.status).toBe(0);
    expect(amtoolCheck(emailOnly.config)).toContain('SUCCESS');
  });

  it('refuses with one line when nothing would receive the alerts, or e-mail lacks its sender or server', () => {
    expect(render({})).toMatchObject({
      status: 1,
      config: '',
      error: 'alertmanager: no receiver: set ALERT_WEBHOOK_URL (and/or ALERT_EMAIL_TO) in .env',
    });
    expect(render({ ALERT_EMAIL_TO: 'ops@example.com', ALERT_SMTP_SMARTHOST: 'smtp:25' })).toMatchObject({
      status: 1,
      error: 'alertmanager: ALERT_EMAIL_TO needs ALERT_EMAIL_FROM',
    });
  });

  it('the compose service passes every variable the script reads, and Prometheus is pointed at it', () => {
    const service = composeConfig({ ALERT_WEBHOOK_URL: 'https://hooks.example.com/x' }).services.alertmanager!;
    const read = [...new Set([...readFileSync(RENDER, 'utf8').matchAll(/\$\{?(ALERT_[A-Z_]+)/g)].map((m) => m[1]!))];
    const optionalDefaults = ['ALERT_GROUP_WAIT', 'ALERT_REPEAT_INTERVAL'];
    expect(Object.keys(service.environment ?? {}).sort()).toEqual(
      read.filter((v) => !optionalDefaults.includes(v)).sort(),
    );
    expect(service.environment?.ALERT_WEBHOOK_URL).toBe('https://hooks.example.com/x');
    expect(String(service.entrypoint)).toContain('render-config.sh');
    const prometheus = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8'));
    expect(prometheus.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
  });

  it('promtool: the rules hold their `for:` and fire with the labels and text that are sent', () => {
    expect(
      execFileSync('promtool', ['test', 'rules', 'test/observability/alerts.promtool.yml'], { encoding: 'utf8' }),
    ).toContain('SUCCESS');
  });
});

describe('an alert reaches the webhook', () => {
  it('a crashed bot on /metrics → NezukoBotCrashed fires in Prometheus → Alertmanager posts it to ALERT_WEBHOOK_URL', async () => {
    // The receiver: what ALERT_WEBHOOK_URL points at.
    const received: Array<{
      status: string;
      alerts: Array<{ status: string; labels: Record<string, string>; annotations: Record<string, string> }>;
    }> = [];
    const webhookPort = await listen((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        if (req.method === 'POST' && req.url === '/alerts') received.push(JSON.parse(body));
        res.end();
      });
    });
    // The api's /metrics with one crashed bot (the deployment gauge the rule reads).
    const targetPort = await listen((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
      res.end(
        '# HELP nezuko_bots Bots by status\n# TYPE nezuko_bots gauge\nnezuko_bots{status="crashed"} 1\nnezuko_bots{status="running"} 2\n',
      );
    });

    // Alertmanager with the configuration the compose service renders (group_wait shortened for the test).
    const amPort = await freePort();
    const amConfig = path.join(scratch, 'alertmanager.yml');
    const rendered = render({ ALERT_WEBHOOK_URL: `http://127.0.0.1:${webhookPort}/alerts`, ALERT_GROUP_WAIT: '1s' });
    expect(rendered.status).toBe(0);
    writeFileSync(amConfig, rendered.config);
    const alertmanager = start('prometheus-alertmanager', [
      `--config.file=${amConfig}`,
      `--storage.path=${path.join(scratch, 'am-data')}`,
      `--web.listen-address=127.0.0.1:${amPort}`,
      '--cluster.listen-address=',
    ]);
    await waitFor(async () => (await fetch(`http://127.0.0.1:${amPort}/-/ready`)).ok, 20_000, 'alertmanager ready');

    // Prometheus with deploy/prometheus: the same rules and alerting section, compose host names mapped to the
    // scratch ports, every second instead of every 15 s, and the rule's `for: 1m` hold left out (promtool
    // checks the hold above); only the api job is scraped (the others are not running here).
    const prometheusConfig = parse(readFileSync('deploy/prometheus/prometheus.yml', 'utf8'));
    prometheusConfig.global = { scrape_interval: '1s', evaluation_interval: '1s' };
    const rules = parse(readFileSync('deploy/prometheus/alerts.yml', 'utf8'));
    for (const rule of rules.groups[0].rules) if (rule.alert === 'NezukoBotCrashed') rule.for = '0s';
    writeFileSync(path.join(scratch, 'alerts.yml'), stringify(rules));
    prometheusConfig.rule_files = [path.join(scratch, 'alerts.yml')];
    expect(prometheusConfig.alerting.alertmanagers[0].static_configs[0].targets).toEqual(['alertmanager:9093']);
    prometheusConfig.alerting.alertmanagers[0].static_configs[0].targets = [`127.0.0.1:${amPort}`];
    const api = prometheusConfig.scrape_configs.find((job: { job_name: string }) => job.job_name === 'api');
    expect(api.static_configs[0].targets).toEqual(['api:3000']);
    api.static_configs[0].targets = [`127.0.0.1:${targetPort}`];
    prometheusConfig.scrape_configs = [api];
    writeFileSync(path.join(scratch, 'prometheus.yml'), stringify(prometheusConfig));
    const prometheusPort = await freePort();
    const prometheus = start('prometheus', [
      `--config.file=${path.join(scratch, 'prometheus.yml')}`,
      `--storage.tsdb.path=${path.join(scratch, 'tsdb')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
    ]);

    await waitFor(() => received.length > 0, 45_000, 'the webhook to be called').catch((err: Error) => {
      const errors = (p: ChildProcess) => (p as ChildProcess & { errors: string }).errors.slice(-1500);
      throw new Error(`${err.message}\nprometheus: ${errors(prometheus)}\nalertmanager: ${errors(alertmanager)}`);
    });
    const [notification] = received;
    expect(notification!.status).toBe('firing');
    expect(notification!.alerts).toHaveLength(1);
    expect(notification!.alerts[0]).toMatchObject({
      status: 'firing',
      labels: { alertname: 'NezukoBotCrashed', severity: 'critical' },
      annotations: { summary: '1 bot(s) crashed' },
    });
  }, 90_000);
});
