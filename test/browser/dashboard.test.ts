// The admin web dashboard in headless Chromium against the demo stack (simulator, every role in a child
// process, three bots, protected groups and a fast scenario), on this file's own database and Redis prefix.
// Writes a screenshot of each page to test-results/screenshots/, or, with UPDATE_SCREENSHOTS=1, to
// docs/screenshots/ (the ones README shows), so an ordinary test run leaves the work tree clean.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDemo, type Demo } from '../../scripts/demo/stack';
import { useTestDatabase } from '../support/db';
import { useTestRedis } from '../support/redis';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(
  import.meta.dirname,
  process.env.UPDATE_SCREENSHOTS === '1' ? '../../docs/screenshots' : '../../test-results/screenshots',
);
const CHARTS = ['chart-activity', 'chart-success', 'chart-latency', 'chart-cache', 'chart-top-groups', 'chart-bots'];

const db = useTestDatabase();
const redis = useTestRedis();
const exportDir = mkdtempSync(path.join(tmpdir(), 'nezuko-browser-exports-'));
let demo: Demo | undefined;
let browser: Browser | undefined;
const problems: string[] = [];

async function newPage(viewport = { width: 1280, height: 900 }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser!.newContext({ viewport, acceptDownloads: true });
  const page = await context.newPage();
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(`console error on ${page.url()}: ${m.text()}`);
  });
  page.on('pageerror', (e) => problems.push(`page error on ${page.url()}: ${e.message}`));
  return { context, page };
}

async function logIn(page: Page, who: { email: string; password: string }) {
  await page.goto(`${demo!.url}/`);
  await page.getByLabel('Email').fill(who.email);
  await page.getByLabel('Password').fill(who.password);
  await page.getByRole('button', { name: 'Log in' }).click();
  await page.locator('#topbar').waitFor({ state: 'visible' });
}

const go = async (page: Page, route: string) => {
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: route }).click();
  await page.getByRole('heading', { level: 1, name: route }).waitFor();
};

const shot = async (page: Page, name: string) => {
  await page.evaluate('window.scrollTo(0, 0)');
  await page.screenshot({ path: path.join(SHOTS, `${name}.png`), fullPage: true });
};

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(
      `Headless Chromium is needed for the browser tests and was not found at ${CHROMIUM}. ` +
        'Install the Debian/Ubuntu package "chromium" (apt-get install -y chromium; `npm test` does this itself when run as root), ' +
        'or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  mkdirSync(SHOTS, { recursive: true });
  [demo, browser] = await Promise.all([
    startDemo({
      databaseUrl: db.url,
      redisUrl: redis.url,
      redisPrefix: redis.prefix,
      apiPort: 0,
      rollupIntervalMs: 1_000,
      scenarioStepMs: 120,
      exportDir,
    }),
    chromium.launch({
      executablePath: CHROMIUM,
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
      ],
    }),
  ]);
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await demo?.stop();
  rmSync(exportDir, { recursive: true, force: true });
}, 60_000);

describe('admin web dashboard', () => {
  let page: Page;
  let context: BrowserContext;

  it('logs in and draws every overview chart with data', async () => {
    ({ page, context } = await newPage());
    await logIn(page, demo!.owner);
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    // The scenario runs and the snapshot is rolled up every second; the page refreshes every 10 s.
    for (const id of CHARTS)
      await page.locator(`#${id}[data-has-data="true"] svg[role="img"]`).waitFor({ timeout: 45_000 });
    for (const id of CHARTS)
      expect(await page.locator(`#${id} svg[role="img"]`).getAttribute('aria-label')).toBeTruthy();
    await expect.poll(() => page.locator('#stat-cards .stat').count()).toBe(7);
    // The demo's guard-bot group decides requests through answerChatJoinRequestQuery: counted by reason.
    await expect(page.locator('#stat-cards .stat', { hasText: 'Guard-bot requests (24 h)' }).count()).resolves.toBe(1);
    await shot(page, 'overview');
  }, 60_000);

  it('stops and starts a bot and shows its status change', async () => {
    await go(page, 'Bots');
    const bot = demo!.bots[0]!;
    const row = page.locator(`tr[data-bot-id="${bot.instanceId}"]`);
    await row.waitFor();
    await page.getByRole('button', { name: `Stop @${bot.username}`, exact: true }).click();
    await page.locator(`tr[data-bot-id="${bot.instanceId}"][data-status="stopped"]`).waitFor({ timeout: 15_000 });
    await page.getByRole('button', { name: `Start @${bot.username}`, exact: true }).click();
    await page.locator(`tr[data-bot-id="${bot.instanceId}"][data-status="running"]`).waitFor({ timeout: 20_000 });
    await page.getByRole('button', { name: `Stop @${bot.username}`, exact: true }).waitFor();
    await shot(page, 'bots');
  }, 45_000);

  it('searches groups and opens one with its settings and channels', async () => {
    await go(page, 'Groups');
    await page.getByRole('searchbox', { name: 'Search' }).fill('photography');
    await page.getByRole('button', { name: 'Search' }).click();
    await expect.poll(() => page.locator('#groups-list tbody tr').count()).toBe(1);
    await page.getByRole('button', { name: 'Open Photography Club' }).click();
    const panel = page.locator('#group-panel');
    await panel.getByRole('heading', { name: 'Photography Club' }).waitFor();
    expect(await panel.locator('.channel-list li').count()).toBe(2);
    await expect.poll(() => panel.getByLabel('Mode').inputValue()).toBe('mute');
    await panel.getByRole('button', { name: 'Unmute everyone' }).waitFor();
    await shot(page, 'groups');
  }, 30_000);

  it('pages through verifications with a cursor and filters them', async () => {
    await go(page, 'Verifications');
    const rows = page.locator('#verifications-table tbody tr');
    await expect.poll(() => rows.count(), { timeout: 15_000 }).toBeGreaterThan(0);
    if (await page.locator('#load-more').isVisible()) {
      const before = await rows.count();
      await page.locator('#load-more').click();
      await expect.poll(() => rows.count()).toBeGreaterThan(before);
    }
    await page.getByLabel('Status').selectOption('verified');
    await page.getByRole('button', { name: 'Apply' }).click();
    await expect
      .poll(async () => [...new Set(await page.locator('#verifications-table tbody .badge').allTextContents())])
      .toEqual(['verified']);
    await shot(page, 'verifications');
  }, 30_000);

  it('requests an export, watches it finish and downloads a gzip CSV', async () => {
    await go(page, 'Exports');
    await page.getByLabel('Kind').selectOption('verifications');
    await page.getByRole('button', { name: 'Request export' }).click();
    const link = page.locator('a[data-export-id]').first();
    await link.waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download'), link.click()]);
    const file = readFileSync((await download.path())!);
    expect([file[0], file[1]]).toEqual([0x1f, 0x8b]);
    const csv = gunzipSync(file)
      .toString('utf8')
      .replace(/^\uFEFF/, '');
    const [header, ...lines] = csv.trim().split(/\r?\n/);
    expect(header).toMatch(/status/);
    expect(header!.split(',').length).toBeGreaterThan(3);
    expect(lines.length).toBeGreaterThan(0);
    expect(download.suggestedFilename()).toMatch(/\.csv\.gz$/);
    await shot(page, 'exports');
  }, 45_000);

  it('logs out', async () => {
    await page.getByRole('button', { name: 'Log out' }).click();
    await page.getByRole('heading', { name: 'Nezuko admin' }).waitFor();
    await page.reload();
    await page.getByLabel('Email').waitFor();
    expect(await page.locator('#topbar').isVisible()).toBe(false);
    await shot(page, 'login');
    await context.close();
  }, 20_000);

  it('shows a viewer no change buttons', async () => {
    const viewer = await newPage();
    const p = viewer.page;
    await logIn(p, demo!.viewer);
    await p.getByText('viewer@nezuko.example · viewer').waitFor();
    // Bull Board (job payloads, Redis internals) is for admins and owners: no link for a viewer.
    expect(await p.locator('#bull-board-link').isVisible()).toBe(false);
    await go(p, 'Bots');
    await p.locator('#bots-list tbody tr[data-bot-id]').first().waitFor();
    expect(await p.locator('#add-bot-form').count()).toBe(0);
    expect(await p.locator('[data-action]').count()).toBe(0);
    await go(p, 'Groups');
    await p.getByRole('button', { name: 'Open Rust Learners' }).click();
    await p.locator('#group-panel').getByRole('heading', { name: 'Rust Learners' }).waitFor();
    expect(await p.locator('#group-panel button').count()).toBe(0);
    expect(await p.locator('#group-panel').getByLabel('Mode').isDisabled()).toBe(true);
    await go(p, 'Exports');
    await p.locator('#exports-list table').waitFor();
    expect(await p.locator('#export-form').count()).toBe(0);
    expect(await p.locator('a[data-export-id]').count()).toBe(0);
    await go(p, 'Overview');
    await p.locator('#chart-activity[data-has-data="true"]').waitFor({ timeout: 15_000 });
    // Only navigation, the menu toggle and log-out are buttons for a viewer: none in the page itself.
    expect(await p.locator('#view button').count()).toBe(0);
    await viewer.context.close();
  }, 45_000);

  it('works on a 390 px wide screen', async () => {
    const phone = await newPage({ width: 390, height: 844 });
    const p = phone.page;
    await logIn(p, demo!.owner);
    await p.locator('#chart-activity[data-has-data="true"]').waitFor({ timeout: 15_000 });
    expect(await p.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const menu = p.getByRole('button', { name: 'Menu' });
    await menu.click();
    expect(await menu.getAttribute('aria-expanded')).toBe('true');
    await p.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Bots' }).click();
    await p.getByRole('heading', { level: 1, name: 'Bots' }).waitFor();
    await p.locator('#bots-list tbody tr[data-bot-id]').first().waitFor();
    expect(await p.evaluate<number>('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    await menu.click();
    await go(p, 'Overview');
    await p.locator('#chart-activity[data-has-data="true"]').waitFor({ timeout: 15_000 });
    await p.screenshot({ path: path.join(SHOTS, 'overview-mobile.png'), fullPage: true });
    await phone.context.close();
  }, 45_000);

  it('logged no console errors on any page', () => {
    expect(problems).toEqual([]);
  });
});
