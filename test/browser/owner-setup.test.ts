// The first visit to the dashboard with no owner: the set-up page asks for the console's one-time code, refuses a
// wrong one, creates the owner and signs them in; afterwards a new visitor gets the login form, not the set-up.
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { useApi } from '../api/helpers';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SHOTS = path.resolve(import.meta.dirname, '../../test-results/screenshots');
const api = useApi({}, { owner: false });
let browser: Browser | undefined;
const problems: string[] = [];

async function open(): Promise<Page> {
  const context = await browser!.newContext({ viewport: { width: 1280, height: 900 } });
  const page = await context.newPage();
  page.on('pageerror', (e) => problems.push(`page error: ${e.message}`));
  await page.goto(`${api.base}/`);
  return page;
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM))
    throw new Error(`Headless Chromium is needed for the browser tests and was not found at ${CHROMIUM}.`);
  mkdirSync(SHOTS, { recursive: true });
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
  });
}, 60_000);

afterAll(async () => {
  await browser?.close();
});

describe('dashboard owner set-up', () => {
  it('asks for the one-time code, refuses a wrong one, then creates the owner and signs them in', async () => {
    const page = await open();
    await page.getByRole('heading', { level: 1, name: 'Set up Nezuko' }).waitFor();
    expect(await page.locator('#login-view').isHidden()).toBe(true);
    const form = page.locator('#setup-form');
    await form.getByLabel('Set-up code').fill('AAAA-BBBB-CCCC');
    await form.getByLabel('Email').fill('first@example.com');
    await form.getByLabel('Password').fill('a first owner passphrase 31');
    await page.screenshot({ path: path.join(SHOTS, 'setup.png') });
    await page.getByRole('button', { name: 'Create owner account' }).click();
    await expect.poll(() => page.locator('#setup-error').textContent()).toContain('Wrong or already used set-up code');
    expect(await api.ctx.db.adminUser.count()).toBe(0);

    await form.getByLabel('Set-up code').fill(api.setup!.code);
    await page.getByRole('button', { name: 'Create owner account' }).click();
    await page.locator('#topbar').waitFor({ state: 'visible' });
    expect(await page.locator('#who').textContent()).toBe('first@example.com · owner');
    await page.getByRole('heading', { level: 1, name: 'Overview' }).waitFor();
    const owner = await api.ctx.db.adminUser.findFirstOrThrow({ where: { role: 'owner' } });
    expect(owner.email).toBe('first@example.com');
    await page.context().close();
  }, 60_000);

  it('is gone once the owner exists: a new visitor gets the login form, and the owner can log in', async () => {
    const page = await open();
    await page.getByRole('heading', { level: 1, name: 'Nezuko admin' }).waitFor();
    expect(await page.locator('#setup-form').count()).toBe(0);
    await page.getByLabel('Email').fill('first@example.com');
    await page.getByLabel('Password').fill('a first owner passphrase 31');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.locator('#topbar').waitFor({ state: 'visible' });
    await page.context().close();
    expect(problems).toEqual([]);
  }, 60_000);
});
