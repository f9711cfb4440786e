/**
 * Debian's chromium, headless, driven by puppeteer-core (its own browser download cannot
 * reach the internet here). Screenshots go to test-artifacts/ (gitignored), kept after
 * the run for people and CI logs.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import puppeteer, { type Browser, type Page } from 'puppeteer-core'

export const CHROMIUM = '/usr/bin/chromium'
export const ARTIFACTS = join(process.cwd(), 'test-artifacts', 'console')

export async function launchBrowser(): Promise<Browser> {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--disable-dev-shm-usage'],
    defaultViewport: { width: 1280, height: 900 },
  })
}

export async function screenshot(page: Page, name: string): Promise<string> {
  await mkdir(ARTIFACTS, { recursive: true })
  const path = join(ARTIFACTS, `${name}.png`)
  await page.screenshot({ path: path as `${string}.png`, fullPage: true })
  return path
}

/** Signs in through the form, as a person would. */
export async function signIn(page: Page, url: string, token: string): Promise<void> {
  await page.goto(`${url}/ui/`)
  await page.waitForSelector('#token')
  await page.type('#token', token)
  await page.click('button[type=submit]')
  await page.waitForSelector('header nav')
}

/** Waits until the text of `selector` matches `re` (the page updates live). */
export async function waitForText(page: Page, selector: string, re: RegExp, timeoutMs = 20_000): Promise<string> {
  await page.waitForFunction(
    (sel: string, src: string, flags: string) => {
      const el = document.querySelector(sel)
      return !!el && new RegExp(src, flags).test(el.textContent ?? '')
    },
    { timeout: timeoutMs, polling: 100 },
    selector,
    re.source,
    re.flags,
  )
  return page.$eval(selector, (el) => el.textContent ?? '')
}
