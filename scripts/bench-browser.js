// Opens the benchmark page in headless Chromium and prints #bench-result.
const { chromium } = require('playwright-core');
(async () => {
  const url = process.argv[2];
  const browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const started = Date.now();
  await page.goto(url);
  await page.waitForSelector('#bench-result', { timeout: 600000 });
  let result = JSON.parse(await page.textContent('#bench-result'));
  if (Array.isArray(result)) result = { figures: result };
  result.url = url;
  result.page_total_s = (Date.now() - started) / 1000;
  console.log(JSON.stringify(result));
  await browser.close();
})().catch((e) => { console.error('bench:', e.message); process.exit(1); });
