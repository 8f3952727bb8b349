// The web console in a real browser: Debian's chromium, driven by playwright-core, against a real
// `legion serve` (the binary named by LEGION_BIN). Three state machines are created through the
// AWS JSON API: a finished Distributed Map with tolerated failed children, a failed execution and a
// running one whose first state is named `<script>alert(1)</script>`. The test checks what a person
// would look for and saves screenshots (SCREENSHOT_DIR, by default ./screenshots).
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const legionBin = process.env.LEGION_BIN;
const chromiumBin = process.env.CHROMIUM_BIN || "/usr/bin/chromium";
const shots = process.env.SCREENSHOT_DIR || path.join(here, "screenshots");
const ROLE = "arn:aws:iam::123456789012:role/legion-console-test";

let server;
let base;
let browser;
let profile;
const arns = {};

async function call(operation, body) {
  const response = await fetch(base + "/", {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": `AWSStepFunctions.${operation}` },
    body: JSON.stringify(body),
  });
  const json = await response.json();
  if (!response.ok) throw new Error(`${operation}: ${JSON.stringify(json)}`);
  return json;
}

async function createMachine(name, file) {
  const definition = readFileSync(path.join(here, "fixtures", file), "utf8");
  const { stateMachineArn } = await call("CreateStateMachine", { name, definition, roleArn: ROLE });
  return stateMachineArn;
}

async function waitForStatus(executionArn, wanted, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  for (;;) {
    const { status } = await call("DescribeExecution", { executionArn });
    if (status === wanted) return;
    if (Date.now() > deadline) throw new Error(`${executionArn} is ${status}, not ${wanted}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function startServer() {
  return new Promise((resolve, reject) => {
    assert.ok(legionBin, "LEGION_BIN names the legion binary");
    // Delays at half speed: the Wait of the running execution lasts 4 s, Retry intervals 0.5 s.
    const args = ["serve", "--bind", "127.0.0.1:0", "--time-scale", "0.5", "--mock-config", path.join(here, "fixtures", "mocks.json")];
    const child = spawn(legionBin, args, { stdio: ["ignore", "ignore", "pipe"] });
    let seen = "";
    const timer = setTimeout(() => reject(new Error(`legion serve did not start: ${seen}`)), 20000);
    child.stderr.on("data", (chunk) => {
      seen += chunk;
      const m = seen.match(/listening on (http:\/\/127\.0\.0\.1:\d+)/);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] });
      }
    });
    child.on("exit", (code) => reject(new Error(`legion serve exited with ${code}: ${seen}`)));
  });
}

const encoded = (arn) => encodeURIComponent(arn);

before(async () => {
  mkdirSync(shots, { recursive: true });
  const started = await startServer();
  server = started.child;
  base = started.url;

  const orders = await createMachine("orders", "orders.asl.json");
  const payments = await createMachine("payments", "payments.asl.json");
  arns.slowMachine = await createMachine("slow", "slow.asl.json");
  const checkout = await createMachine("checkout", "checkout.asl.json");
  arns.steadyMachine = await createMachine("steady", "steady.asl.json");

  const items = Array.from({ length: 20 }, (_, i) => ({ order: `order-${i + 1}`, qty: i % 4 === 3 ? 9 : 1 + (i % 4) }));
  arns.orders = (await call("StartExecution", { stateMachineArn: orders, name: "nightly-batch", input: JSON.stringify({ orders: items }) })).executionArn;
  arns.payments = (await call("StartExecution", { stateMachineArn: payments, name: "order-1042", input: JSON.stringify({ order: 1042 }) })).executionArn;
  arns.checkout = (await call("StartExecution", { stateMachineArn: `${checkout}#Eventful`, name: "order-1043", input: JSON.stringify({ order: 1043, items: 3 }) })).executionArn;
  await waitForStatus(arns.orders, "SUCCEEDED");
  await waitForStatus(arns.checkout, "FAILED");
  await waitForStatus(arns.payments, "FAILED");
  arns.mapRun = (await call("ListMapRuns", { executionArn: arns.orders })).mapRuns[0].mapRunArn;

  profile = mkdtempSync(path.join(tmpdir(), "legion-console-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumBin,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  server?.kill("SIGTERM");
  if (profile) rmSync(profile, { recursive: true, force: true });
});

async function open(url) {
  const page = await browser.newPage();
  const dialogs = [];
  page.on("dialog", (d) => {
    dialogs.push(d.message());
    d.dismiss();
  });
  const response = await page.goto(base + url);
  return { page, response, dialogs };
}

/** Each drawn state's status class, by name. */
async function stateColours(page) {
  return page.$$eval(".legion-graph .state", (nodes) =>
    Object.fromEntries(nodes.map((n) => [n.dataset.state, [...n.classList].find((c) => c.startsWith("st-"))])),
  );
}

async function fillOf(page, name) {
  return page.$$eval(".legion-graph .state", (nodes, name) => {
    const node = nodes.find((n) => n.dataset.state === name);
    return node ? getComputedStyle(node.querySelector("rect")).fill : null;
  }, name);
}

test("the home page lists the state machines and filters executions by status", async () => {
  const { page, response } = await open("/console/");
  assert.equal(response.status(), 200);
  const machines = await page.$$eval("#machines tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(machines.sort(), ["checkout", "orders", "payments", "slow", "steady"]);
  const recent = await page.$$eval("#recent tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.ok(recent.includes("nightly-batch") && recent.includes("order-1042"), recent.join(","));
  await page.click(".filters a[href$='status=FAILED']");
  await page.waitForURL(/status=FAILED/);
  const failed = await page.$$eval("#recent tr td:first-child", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(failed, ["order-1043", "order-1042"]);
  await page.screenshot({ path: path.join(shots, "home.png"), fullPage: true });
  await page.close();
});

test("a state machine's page draws its definition and shows a state's definition on selection", async () => {
  const { page } = await open("/console/");
  await page.click("#machines a:text-is('checkout')");
  await page.waitForURL(/\/console\/state-machines\//);
  const colours = await stateColours(page);
  assert.equal(Object.keys(colours).length, 7);
  assert.ok(Object.values(colours).every((c) => c === "st-none"), JSON.stringify(colours));
  await page.click(".legion-graph .state[data-state='Charge card']");
  assert.match(await page.textContent(".state-detail:not([hidden])"), /"FunctionName": "charge-card"/);
  assert.match(await page.textContent("#executions"), /order-1043/);
  await page.close();
});

test("a failed execution shows its states coloured, its error and cause, and a state's input", async () => {
  const { page, response } = await open(`/console/executions/${encoded(arns.payments)}`);
  assert.equal(response.status(), 200);
  const colours = await stateColours(page);
  assert.deepEqual(colours, {
    "Charge card": "st-succeeded",
    "Approved?": "st-succeeded",
    Ship: "st-not-reached",
    "Card declined": "st-failed",
  });
  assert.equal(await fillOf(page, "Card declined"), "rgb(254, 226, 226)");
  assert.equal(await fillOf(page, "Charge card"), "rgb(220, 252, 231)");
  const labels = await page.$$eval(".legion-graph .edge-label text", (ts) => ts.map((t) => t.textContent));
  assert.ok(labels.includes("$.declined == false") && labels.includes("Default"), labels.join(" | "));
  const error = await page.textContent("#execution-error");
  assert.match(error, /PaymentDeclined/);
  assert.match(error, /The card ending 4242 was declined by the issuer/);
  assert.equal(await page.textContent("h1 .badge"), "FAILED");
  await page.click(".legion-graph .state[data-state='Approved?']");
  const detail = page.locator(".state-detail:not([hidden])");
  assert.match(await detail.textContent(), /"declined": true/);
  const history = await page.$$eval(".history td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  assert.equal(history[0], "ExecutionStarted");
  assert.ok(history.includes("FailStateEntered") && history.at(-1) === "ExecutionFailed", history.join(","));
  await page.screenshot({ path: path.join(shots, "failed-execution.png"), fullPage: true });
  await page.close();
});

test("retried, caught and failed tasks get their own colours, nested in Parallel branches", async () => {
  const { page } = await open(`/console/executions/${encoded(arns.checkout)}`);
  const colours = await stateColours(page);
  assert.deepEqual(colours, {
    "Validate order": "st-succeeded",
    Fulfil: "st-succeeded",
    "Reserve stock": "st-retried",
    "Charge card": "st-caught",
    "Try gift card": "st-succeeded",
    "Notify customer": "st-failed",
    Archive: "st-not-reached",
  });
  assert.equal(await fillOf(page, "Reserve stock"), "rgb(254, 249, 195)");
  assert.equal(await fillOf(page, "Charge card"), "rgb(255, 237, 213)");
  const catchLabel = await page.$$eval(".legion-graph .edge-label.edge-catch text", (ts) => ts.map((t) => t.textContent));
  assert.deepEqual(catchLabel, ["Catch PaymentDeclined"]);
  assert.match(await page.textContent("#execution-error"), /Email\.Bounced[\s\S]*ana@example\.com does not exist/);
  await page.setViewportSize({ width: 1440, height: 1300 });
  await page.click(".legion-graph .state[data-state='Charge card']");
  const detail = await page.textContent(".state-detail:not([hidden])");
  assert.match(detail, /PaymentDeclined/);
  assert.match(detail, /declined by the issuer/);
  await page.screenshot({ path: path.join(shots, "execution.png") });
  await page.close();
});

test("a Distributed Map execution draws its item processor nested and links to its map run", async () => {
  const { page } = await open(`/console/executions/${encoded(arns.orders)}`);
  const colours = await stateColours(page);
  assert.equal(colours["Prepare"], "st-succeeded");
  assert.equal(colours["Process orders"], "st-succeeded");
  assert.equal(colours["Summarise"], "st-succeeded");
  // The item processor runs in child executions: drawn without a colour of the parent's.
  for (const inner of ["Check stock", "Reserve", "Out of stock"]) assert.equal(colours[inner], "st-none", inner);
  const nested = await page.$$eval(".legion-graph .state", (nodes) => {
    const box = (name) => nodes.find((n) => n.dataset.state === name).querySelector("rect").getBBox();
    const outer = box("Process orders");
    const inner = box("Check stock");
    return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.width <= outer.x + outer.width && inner.y + inner.height <= outer.y + outer.height;
  });
  assert.ok(nested, "the item processor is drawn inside the Map state");
  assert.match(await page.textContent(".legion-graph .group-title"), /Distributed Map Process orders/);
  assert.equal(await page.textContent(".legion-graph .group-caption"), "15 succeeded · 5 failed of 20 items");
  await page.screenshot({ path: path.join(shots, "distributed-map.png"), fullPage: true, clip: { x: 0, y: 250, width: 1000, height: 900 } });
  await page.click("#map-runs a");
  await page.waitForURL(/\/console\/map-runs\//);
  assert.match(await page.textContent("h1"), /Map run Process orders/);
  await page.close();
});

test("the map run page shows counts, progress, configuration and failed children", async () => {
  const { page, response } = await open(`/console/map-runs/${encoded(arns.mapRun)}`);
  assert.equal(response.status(), 200);
  const counts = await page.$$eval("#item-counts td", (tds) => Object.fromEntries(tds.map((t) => [t.dataset.count, Number(t.textContent)])));
  assert.deepEqual(counts, { pending: 0, running: 0, succeeded: 15, failed: 5, timedOut: 0, aborted: 0, total: 20 });
  const executions = await page.$$eval("#execution-counts td", (tds) => Object.fromEntries(tds.map((t) => [t.dataset.count, Number(t.textContent)])));
  assert.equal(executions.failed, 5);
  assert.equal(executions.succeeded, 15);
  const bar = await page.$$eval("#progress div", (ds) => ds.map((d) => [d.className, d.style.width]));
  assert.deepEqual(bar, [["p-succeeded", "75%"], ["p-failed", "25%"]]);
  assert.match(await page.textContent("#rate"), /items\/s/);
  const config = await page.textContent("#configuration");
  assert.match(config, /ToleratedFailurePercentage\s*50/);
  assert.match(config, /MaxConcurrency\s*4/);
  assert.match(config, /ItemBatcher[\s\S]*MaxItemsPerBatch/);
  const failedRows = await page.$$eval("#failed-children tr td:nth-child(2)", (tds) => tds.map((t) => t.textContent));
  assert.deepEqual(failedRows, Array(5).fill("OutOfStock"));
  assert.match(await page.textContent("#failed-children"), /Not enough items in the warehouse/);
  assert.equal(await page.locator("#children tr td:first-child a").count(), 20);
  await page.screenshot({ path: path.join(shots, "map-run.png"), fullPage: true, clip: { x: 0, y: 0, width: 1440, height: 1040 } });

  await page.click("#failed-children tr:nth-child(2) a");
  await page.waitForURL(/\/console\/executions\//);
  const colours = await stateColours(page);
  assert.deepEqual(colours, { "Check stock": "st-succeeded", Reserve: "st-not-reached", "Out of stock": "st-failed" });
  assert.match(await page.textContent("#execution-error"), /OutOfStock/);
  const parent = await page.getAttribute("dd a[href*='/console/executions/']", "href");
  assert.equal(decodeURIComponent(parent.split("/console/executions/")[1]), arns.orders);
  await page.close();
});

test("a running execution updates live, and a state named <script> stays text", async () => {
  const hostileInput = { note: "</pre><img src=x onerror=\"alert(2)\"><script>alert(3)</script>" };
  const { executionArn } = await call("StartExecution", { stateMachineArn: arns.slowMachine, name: "live-one", input: JSON.stringify(hostileInput) });
  await waitForStatus(executionArn, "RUNNING");
  const { page, dialogs } = await open(`/console/executions/${encoded(executionArn)}`);
  await page.waitForFunction(() => document.querySelector(".legion-graph .state[data-state='Wait a moment']")?.classList.contains("st-running"));
  assert.equal(await page.textContent("h1 .badge"), "RUNNING");
  assert.equal(await fillOf(page, "Wait a moment"), "rgb(219, 234, 254)");
  await page.screenshot({ path: path.join(shots, "running.png") });
  await page.evaluate(() => { window.__sameDocument = true; });

  await page.waitForFunction(() => document.querySelector("h1 .badge")?.textContent === "SUCCEEDED", null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "updated in place, not reloaded");
  const colours = await stateColours(page);
  assert.deepEqual(colours, { "<script>alert(1)</script>": "st-succeeded", "Wait a moment": "st-succeeded", Done: "st-succeeded" });
  assert.equal(await page.isHidden("#live-indicator"), true, "polling stops once the execution ends");

  const hostile = await page.$$eval(".legion-graph .state text", (ts) => ts.map((t) => t.textContent));
  assert.ok(hostile.includes("<script>alert(1)</script>"), hostile.join(","));
  assert.equal(await page.evaluate(() => document.scripts.length), 1, "only the console's own script");
  assert.equal(await page.evaluate(() => document.querySelectorAll("main script").length), 0);
  assert.equal(await page.evaluate(() => document.querySelectorAll("main img").length), 0, "an input's markup stays text");
  const shownInput = await page.$$eval("pre.json", (pres) => pres.map((p) => p.textContent).join("\n"));
  assert.ok(shownInput.includes('"note": "</pre><img src=x onerror=\\"alert(2)\\"><script>alert(3)</script>"'), shownInput);
  assert.deepEqual(dialogs, []);
  await page.click(".legion-graph .state[data-state='<script>alert(1)</script>']");
  assert.match(await page.textContent(".state-detail:not([hidden]) h2"), /^<script>alert\(1\)<\/script>$/);
  await page.close();
});

test("a running map run's counts and progress bar update live", async () => {
  const { executionArn } = await call("StartExecution", {
    stateMachineArn: arns.steadyMachine,
    name: "steady-1",
    input: JSON.stringify({ items: [1, 2, 3, 4, 5, 6, 7, 8] }),
  });
  let mapRunArn;
  for (let i = 0; i < 100 && !mapRunArn; i++) {
    mapRunArn = (await call("ListMapRuns", { executionArn })).mapRuns[0]?.mapRunArn;
    if (!mapRunArn) await new Promise((r) => setTimeout(r, 50));
  }
  assert.ok(mapRunArn, "the map run started");
  const { page } = await open(`/console/map-runs/${encoded(mapRunArn)}`);
  assert.equal(await page.textContent("h1 .badge"), "RUNNING");
  const running = Number(await page.textContent("#item-counts td[data-count='running']"));
  assert.ok(running <= 2, `MaxConcurrency 2 bounds the running items: ${running}`);
  assert.equal(await page.textContent("#item-counts td[data-count='succeeded']"), "0");
  await page.evaluate(() => { window.__sameDocument = true; });
  // Pairs of children end every second: the page shows some succeeded while the run still runs.
  await page.waitForFunction(() => {
    const done = Number(document.querySelector("#item-counts td[data-count='succeeded']")?.textContent);
    return done > 0 && done < 8 && document.querySelector("h1 .badge")?.textContent === "RUNNING";
  }, null, { timeout: 20000 });
  await page.waitForFunction(() => document.querySelector("h1 .badge")?.textContent === "SUCCEEDED", null, { timeout: 20000 });
  assert.equal(await page.evaluate(() => window.__sameDocument), true, "updated in place, not reloaded");
  assert.equal(await page.textContent("#item-counts td[data-count='succeeded']"), "8");
  assert.deepEqual(await page.$$eval("#progress div", (ds) => ds.map((d) => [d.className, d.style.width])), [["p-succeeded", "100%"]]);
  await page.close();
});

test("unknown and malformed ARNs give a readable 404 page, and the API keeps its POST routes", async () => {
  const unknown = "arn:aws:states:us-east-1:123456789012:execution:payments:no-such-run";
  for (const url of [
    "/console/executions/not-an-arn",
    `/console/executions/${encoded(unknown)}`,
    "/console/executions/%E0%A4%A",
    "/console/map-runs/arn%3Aaws%3Astates%3Aus-east-1%3A123456789012%3AmapRun%3Ax%2Fy%3Az",
    "/console/state-machines/%3Cscript%3E",
    "/console/nothing-here",
  ]) {
    const { page, response } = await open(url);
    assert.equal(response.status(), 404, url);
    assert.equal(await page.textContent("h1"), "Not found", url);
    assert.equal(await page.evaluate(() => document.querySelectorAll("main script").length), 0, url);
    await page.close();
  }
  const response = await fetch(base + "/console/", {
    method: "POST",
    headers: { "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "AWSStepFunctions.ListStateMachines" },
    body: "{}",
  });
  assert.equal(response.status, 200);
  assert.equal((await response.json()).stateMachines.length, 5);
});
