// Real-browser test of the swipe deck page and the interactive API docs,
// with playwright-core driving Debian's chromium (no browser download).
// cmd/swipeflix/browser_test.go starts the services in-process and runs
// this script; it can also run against `make run`:
//
//   BASE_URL=http://localhost:8000 OUT_DIR=/tmp/shots node e2e/deck.mjs
//
// Environment: BASE_URL (the api), USER_ID (a new profile; default random),
// OUT_DIR (screenshots), CHROMIUM (default /usr/bin/chromium).
// It prints one JSON object (what it saw) on stdout and exits 1 with the
// reason on stderr when a check fails. The Go test checks the rest against
// Kafka and the api.
import { chromium } from "playwright-core";
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const BASE = (process.env.BASE_URL || "http://localhost:8000").replace(/\/$/, "");
const USER = process.env.USER_ID || "browser-" + Math.random().toString(16).slice(2, 10);
const OUT = process.env.OUT_DIR || "browser-out";
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const TIMEOUT = Number(process.env.STEP_TIMEOUT_MS || 60000); // bounds a broken step (race detector and a loaded machine are slow), never a speed
mkdirSync(OUT, { recursive: true });

const result = { user: USER, consoleErrors: [], steps: [] };
function check(cond, msg) {
  if (!cond) throw new Error(msg);
}
function step(name) {
  result.steps.push(name);
  process.stderr.write(`browser: ${name}\n`);
}

const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync"],
});

function watchConsole(page, where) {
  page.on("console", (m) => {
    if (m.type() === "error") result.consoleErrors.push(`${where}: ${m.text()}`);
  });
  page.on("pageerror", (e) => result.consoleErrors.push(`${where}: uncaught ${e.message}`));
  page.on("requestfailed", (r) => result.consoleErrors.push(`${where}: request failed ${r.url()} ${r.failure()?.errorText}`));
}

const topCard = (page) => page.$eval("#deck .card.top", (n) => n.dataset.movieId).catch(() => null);

// waitNewTop waits until the top card is a movie other than prev.
async function waitNewTop(page, prev) {
  await page.waitForFunction((p) => {
    const n = document.querySelector("#deck .card.top");
    return n && n.dataset.movieId !== p && !n.classList.contains("gone-right") && !n.classList.contains("gone-left") &&
      !n.classList.contains("gone-up") && !n.classList.contains("gone-down");
  }, prev, { timeout: TIMEOUT });
  return topCard(page);
}

async function drag(page, dx, dy) {
  const box = await (await page.$("#deck .card.top")).boundingBox();
  const x = box.x + box.width / 2, y = box.y + box.height / 2;
  await page.mouse.move(x, y);
  await page.mouse.down();
  for (let i = 1; i <= 12; i++) await page.mouse.move(x + (dx * i) / 12, y + (dy * i) / 12);
  await page.mouse.up();
}

try {
  // ---- desktop: swipe with the keyboard and the mouse ---------------------
  const desktop = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await desktop.newPage();
  watchConsole(page, "deck");
  await page.goto(`${BASE}/?user=${encodeURIComponent(USER)}`);
  await page.waitForSelector("#deck .card.top", { timeout: TIMEOUT });
  await page.waitForFunction(() => window.swipeflix.picks.length === 10, null, { timeout: TIMEOUT });
  const stored = await page.evaluate(() => localStorage.getItem("swipeflix.user"));
  check(stored === USER, `localStorage swipeflix.user is ${stored}, want ${USER}`);
  result.coldPicks = await page.evaluate(() => window.swipeflix.picks.map((p) => p.movie_id));
  result.coldStart = await page.evaluate(() => window.swipeflix.coldStart);
  check(result.coldStart, "a new profile's first top picks are not the cold-start list");
  await page.screenshot({ path: join(OUT, "desktop-start.png") });
  step("page loaded, cold-start picks shown");

  // Labelled buttons for screen readers.
  for (const id of ["btn-like", "btn-dislike", "btn-superlike", "btn-skip", "btn-undo"]) {
    const label = await page.getAttribute("#" + id, "aria-label");
    check(label && label.length > 3, `#${id} has no aria-label`);
  }

  const keys = ["ArrowRight", "ArrowUp", "ArrowRight", "ArrowLeft", "ArrowRight", "ArrowDown", "ArrowRight", "ArrowUp", "ArrowRight", "ArrowRight"];
  const swiped = [];   // movie ids in swipe order
  const rated = [];    // those swiped with a signal (a skip is none: the trainer may still rank it)
  let top = await topCard(page);
  for (const k of keys) {
    swiped.push(top);
    if (k !== "ArrowDown") rated.push(top);
    await page.keyboard.press(k);
    top = await waitNewTop(page, top);
  }
  step("10 keyboard swipes");

  for (const [dx, dy] of [[260, 0], [0, -260], [-260, 0]]) {
    swiped.push(top);
    rated.push(top);
    await drag(page, dx, dy);
    top = await waitNewTop(page, top);
  }
  step("3 mouse drags");

  // Undo: the last card comes back on top, a neutral (skip) event is sent;
  // re-swiping it sends a newer event.
  const undone = swiped[swiped.length - 1];
  await page.keyboard.press("u");
  await page.waitForFunction((id) => document.querySelector("#deck .card.top")?.dataset.movieId === id, undone, { timeout: TIMEOUT });
  // The card comes back at once; the compensating event follows once the
  // undone swipe's own POST has answered (slow on a loaded machine).
  await page.waitForFunction(() => window.swipeflix.sent.at(-1).note === "undo", null, { timeout: TIMEOUT }).catch(() => {});
  const undoEvent = await page.evaluate(() => window.swipeflix.sent[window.swipeflix.sent.length - 1]);
  check(undoEvent.movie_id === undone && undoEvent.swipe === "skip" && undoEvent.note === "undo", `undo sent ${JSON.stringify(undoEvent)}`);
  await page.keyboard.press("ArrowRight");
  await waitNewTop(page, undone);
  step("undo brought the card back; re-swiped");

  // Every event accepted by ingest; the picks turn personal and change.
  await page.waitForFunction(() => window.swipeflix.sent.every((e) => e.status === "accepted"), null, { timeout: TIMEOUT });
  // Rated movies leave the picks once the model has them (seen movies are never recommended).
  await page.waitForFunction((rated) => {
    const s = window.swipeflix;
    const ids = s.picks.map((p) => p.movie_id);
    return !s.coldStart && ids.length > 0 && s.lastLatencyMs !== null &&
      ids.join() !== s.firstPicks.join() && !ids.some((id) => rated.includes(id));
  }, rated, { timeout: TIMEOUT });
  const st = await page.evaluate(() => {
    const s = window.swipeflix;
    return { sent: s.sent, dealt: s.dealt, picks: s.picks.map((p) => p.movie_id), reasons: s.reasons,
      latencyMs: s.lastLatencyMs, latencies: s.latencies, modelVersion: s.modelVersion };
  });
  Object.assign(result, st);
  check(new Set(st.dealt).size === st.dealt.length, `a card was dealt twice: ${st.dealt}`);
  const shownLatency = await page.textContent("#latency");
  check(/\d+ ms/.test(shownLatency), `latency line: ${shownLatency}`);
  result.reasonCount = Object.keys(st.reasons || {}).length;
  const whyShown = await page.$$eval("#picks .why", (ns) => ns.map((n) => n.textContent));
  result.whyShown = whyShown;
  step(`picks changed (${st.latencyMs} ms after the last swipe), ${whyShown.length} with a reason`);

  // Keyboard only: Tab reaches the buttons; Enter on "Like" swipes.
  await page.focus("#btn-like");
  const before = await topCard(page);
  await page.keyboard.press("Enter");
  await waitNewTop(page, before);
  result.sent = await page.evaluate(() => window.swipeflix.sent);
  await page.waitForFunction(() => window.swipeflix.sent.every((e) => e.status === "accepted"), null, { timeout: TIMEOUT });
  result.sent = await page.evaluate(() => window.swipeflix.sent);
  await page.screenshot({ path: join(OUT, "desktop.png") });
  step("the like button works from the keyboard; desktop screenshot");

  // ---- phone: the same profile, touch-sized ------------------------------
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
  const ppage = await phone.newPage();
  watchConsole(ppage, "phone");
  await ppage.goto(`${BASE}/?user=${encodeURIComponent(USER)}`);
  await ppage.waitForSelector("#deck .card.top", { timeout: TIMEOUT });
  await ppage.waitForFunction(() => window.swipeflix.picks.length > 0, null, { timeout: TIMEOUT });
  const overflow = await ppage.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  check(overflow <= 0, `the phone layout scrolls sideways by ${overflow}px`);
  for (const id of ["btn-like", "btn-dislike", "btn-superlike", "btn-skip", "btn-undo", "new-profile", "user"]) {
    const b = await ppage.$eval("#" + id, (n) => n.getBoundingClientRect().toJSON());
    check(b.left >= 0 && b.right <= 390 && b.bottom <= 844, `#${id} is off the phone screen: ${JSON.stringify(b)}`);
  }
  const phoneDealt = await ppage.evaluate(() => window.swipeflix.dealt);
  check(phoneDealt.every((id) => !result.dealt.includes(id)), "the phone was dealt a card the desktop already had");
  await ppage.screenshot({ path: join(OUT, "phone.png") });
  step("phone layout; screenshot");

  // ---- /docs: every route listed, "try it out" POST /predict --------------
  const docs = await desktop.newPage();
  watchConsole(docs, "docs");
  await docs.goto(`${BASE}/docs`);
  await docs.waitForSelector(".opblock", { timeout: TIMEOUT });
  const spec = await (await docs.request.get(`${BASE}/openapi.json`)).json();
  const want = [];
  for (const [path, ops] of Object.entries(spec.paths)) for (const m of Object.keys(ops)) want.push(`${m.toUpperCase()} ${path}`);
  const listed = await docs.$$eval(".opblock", (ns) => ns.map((n) => {
    const m = n.querySelector(".opblock-summary-method")?.textContent.trim();
    const p = n.querySelector(".opblock-summary-path")?.getAttribute("data-path") || n.querySelector(".opblock-summary-path")?.textContent.trim();
    return `${m} ${p}`.replace(/\u200b/g, "");
  }));
  result.docsRoutes = listed;
  await docs.screenshot({ path: join(OUT, "docs-routes.png") });
  for (const w of want) check(listed.includes(w), `/docs does not list ${w} (lists ${listed.join(", ")})`);
  const op = docs.locator(".opblock-post", { has: docs.locator('[data-path="/predict"]') }).first();
  await op.locator(".opblock-summary").first().click();
  await op.locator(".try-out__btn").click();
  await op.locator("textarea.body-param__text").fill(`{"user_id": "${USER}", "top_k": 3}`);
  await op.locator("button.execute").click();
  const status = op.locator(".live-responses-table tbody .response-col_status").first();
  await status.waitFor({ timeout: TIMEOUT });
  result.docsTryStatus = (await status.textContent()).trim();
  check(result.docsTryStatus.startsWith("200"), `try it out POST /predict answered ${result.docsTryStatus}`);
  await docs.screenshot({ path: join(OUT, "docs.png"), fullPage: false });
  step("/docs lists every route; try it out POST /predict: 200");

  check(result.consoleErrors.length === 0, `console errors: ${result.consoleErrors.join(" | ")}`);
  writeFileSync(join(OUT, "result.json"), JSON.stringify(result, null, 2));
  process.stdout.write(JSON.stringify(result) + "\n");
  await browser.close();
} catch (e) {
  result.error = e.message;
  process.stderr.write(`browser: FAILED: ${e.stack || e}\n`);
  process.stderr.write(`browser: console errors: ${JSON.stringify(result.consoleErrors)}\n`);
  writeFileSync(join(OUT, "result.json"), JSON.stringify(result, null, 2));
  await browser.close().catch(() => {});
  process.exit(1);
}
