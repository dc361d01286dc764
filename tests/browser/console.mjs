// Browser test of the tenant administrator's console, in the system's
// headless Chromium through playwright-core (no browser download). Started
// by the cargo test `browser::console_in_chromium` (tests/tests/e2e/browser.rs),
// which starts the services, seeds a tenant and passes:
//   CONSOLE_LINK   a fresh single-use console link
//   SCIM_BASE      the tenant's SCIM base URL, SCIM_TOKEN its bearer token
//   ARTIFACTS_DIR  where screenshots and the downloaded CSV go
//   CHROMIUM       the browser binary (default /usr/bin/chromium)
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { chromium } from "playwright-core";

const env = (name) => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};
const link = env("CONSOLE_LINK");
const scimBase = env("SCIM_BASE");
const scimToken = env("SCIM_TOKEN");
const artifacts = env("ARTIFACTS_DIR");
mkdirSync(artifacts, { recursive: true });

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const context = await browser.newContext({ viewport: { width: 1280, height: 900 }, acceptDownloads: true });
const page = await context.newPage();
const problems = [];
page.on("console", (m) => { if (m.type() === "error") problems.push(`${m.text()} (${m.location().url})`); });
page.on("pageerror", (e) => problems.push(String(e)));
page.on("dialog", (d) => d.accept());

let step = 0;
async function check(name, body) {
  step += 1;
  process.stdout.write(`step ${step}: ${name} ... `);
  await body();
  console.log("ok");
}
async function shot(name) {
  await page.screenshot({ path: join(artifacts, `${name}-1280.png`), fullPage: true });
  await page.setViewportSize({ width: 390, height: 844 });
  await page.screenshot({ path: join(artifacts, `${name}-390.png`), fullPage: true });
  const overflow = await page.evaluate(() => {
    const wide = [...document.querySelectorAll("body *")]
      .filter((e) => e.getBoundingClientRect().right > window.innerWidth + 1 && !(e.parentElement && e.parentElement.closest(".table-wrap")))
      .slice(0, 3)
      .map((e) => `${e.tagName.toLowerCase()}${e.id ? "#" + e.id : ""}.${e.className}`);
    return { by: document.documentElement.scrollWidth - window.innerWidth, wide };
  });
  assert.ok(overflow.by <= 1, `${name} scrolls sideways at 390 px (${overflow.by} px too wide: ${overflow.wide.join(", ")})`);
  await page.setViewportSize({ width: 1280, height: 900 });
}
const nav = (name) => page.getByRole("navigation", { name: "Console sections" }).getByRole("link", { name });
const notice = () => page.locator(".notice").first().innerText();

try {
  await check("a signed link shows a sign-in button (opening it uses nothing), which opens SCIM setup", async () => {
    await page.goto(link);
    assert.equal(await page.locator("h1").innerText(), "Sign in");
    assert.deepEqual(await context.cookies(), [], "the link's page set a cookie");
    await page.reload();
    await shot("sign-in");
    await page.getByRole("button", { name: /^Sign in to / }).click();
    await page.waitForURL("**/setup");
    assert.equal(await page.locator("h1").innerText(), "SCIM setup");
    assert.match(await page.locator("#tenant-url").innerText(), /\/scim\/v2\//);
    const cookies = await context.cookies();
    const session = cookies.find((c) => c.name === "console_session");
    assert.ok(session && session.httpOnly && session.secure && session.sameSite === "Strict", JSON.stringify(cookies));
  });

  await check("keyboard: the first Tab reaches the skip link, with a visible focus ring", async () => {
    await page.keyboard.press("Tab");
    const focused = await page.evaluate(() => ({
      text: document.activeElement.textContent,
      outline: getComputedStyle(document.activeElement).outlineStyle,
    }));
    assert.equal(focused.text, "Skip to content");
    assert.notEqual(focused.outline, "none");
  });

  let secret;
  await check("issue a token: shown once, with a copy button", async () => {
    await page.getByLabel("Description of a new token").fill("Browser test token");
    await page.getByRole("button", { name: "Issue token" }).click();
    secret = (await page.locator("#new-token").innerText()).trim();
    assert.match(secret, /^scim_[0-9a-f]{72}$/);
    assert.ok(await page.getByRole("button", { name: "Copy token" }).isVisible());
    await shot("setup-token-issued");
    const r = await fetch(`${scimBase}/Users?count=1`, { headers: { authorization: `Bearer ${secret}` } });
    assert.equal(r.status, 200);
    await page.goto(new URL("/setup", page.url()).href);
    assert.ok(!(await page.content()).includes(secret), "the secret appears again");
  });

  await check("revoke the token", async () => {
    const hint = secret.slice(0, 11);
    await page.getByRole("button", { name: `Revoke token ${hint}` }).click();
    assert.match(await notice(), /revoked/);
    await shot("setup");
  });

  await check("set the default role with its preview", async () => {
    await nav("Role assignments").click();
    await page.getByLabel("Default role", { exact: true }).selectOption("Employee");
    await page.getByRole("button", { name: "Preview change" }).click();
    assert.match(await page.locator("#preview-summary").innerText(), /^3 users will change role/);
    await shot("roles-preview-default");
    await page.getByRole("button", { name: "Apply change" }).click();
    assert.match(await notice(), /3 users changed role/);
  });

  await check("map a group to a role with its preview", async () => {
    await page.getByLabel("Role for Managers").selectOption("Manager");
    await page.getByLabel("Priority for Managers").fill("10");
    await page.getByRole("button", { name: "Preview mapping Managers" }).click();
    const summary = await page.locator("#preview-summary").innerText();
    assert.match(summary, /^1 user will change role/);
    assert.match(await page.locator("ul.diff").innerText(), /alice@browser\.example: Employee → Manager/);
    await shot("roles-preview-group");
    await page.getByRole("button", { name: "Apply change" }).click();
    assert.match(await notice(), /1 user changed role/);
    assert.match(await page.locator("#mapped").innerText(), /Managers\s+Manager\s+10/);
    await shot("roles");
  });

  await check("lock a user, then read the explanation and history", async () => {
    await nav("Sub-accounts").click();
    await page.getByLabel("Find users whose userName starts with").fill("alice");
    await page.keyboard.press("Enter");
    await page.waitForURL("**/users?q=alice");
    await shot("users");
    await page.getByRole("button", { name: "Lock the role of alice@browser.example" }).click();
    assert.match(await notice(), /locked at Manager/);
    assert.match(await page.locator("#explain-h + ol").innerText(), /Role lock/);
    await shot("user");
  });

  await check("the provisioning log shows a new SCIM request", async () => {
    const r = await fetch(`${scimBase}/Users`, {
      method: "POST",
      headers: { authorization: `Bearer ${scimToken}`, "content-type": "application/scim+json" },
      body: JSON.stringify({ schemas: ["urn:ietf:params:scim:schemas:core:2.0:User"], userName: "zoe@browser.example" }),
    });
    assert.equal(r.status, 201);
    await nav("Provisioning log").click();
    const deadline = Date.now() + 15000;
    for (;;) {
      const text = await page.locator("main").innerText();
      if (text.includes("zoe@browser.example")) break;
      if (text.includes("not available on this server")) {
        throw new Error("the provisioning log is not implemented on this server (ListRequestLog answers Unimplemented)");
      }
      if (Date.now() > deadline) throw new Error("the SCIM request did not appear in the log within 15 s");
      await page.waitForTimeout(500);
      await page.reload();
    }
    await page.getByLabel("User or group (name or id)").fill("zoe@browser.example");
    await page.getByRole("button", { name: "Filter" }).click();
    assert.match(await page.locator("#log").innerText(), /POST/);
    await shot("log");
  });

  await check("download the report's CSV", async () => {
    await nav("Disabled with equipment").click();
    assert.match(await page.locator("#disabled-table").innerText(), /carol@browser\.example/);
    const [download] = await Promise.all([
      page.waitForEvent("download"),
      page.getByRole("link", { name: "Download CSV" }).click(),
    ]);
    const file = join(artifacts, download.suggestedFilename());
    await download.saveAs(file);
    const csv = readFileSync(file, "utf8");
    assert.match(csv, /^section,user_id,user_name/);
    assert.match(csv, /carol@browser\.example/);
    await shot("report");
  });

  await check("no script or CSP errors on any page", async () => {
    assert.deepEqual(problems, []);
  });

  await check("sign out everywhere ends the session (after the error check: its 401 page is logged as a failed load)", async () => {
    await page.getByRole("button", { name: "Sign out everywhere" }).click();
    assert.equal(await page.locator("h1").innerText(), "Signed out");
    await page.goto(new URL("/setup", page.url()).href);
    assert.equal(await page.locator("h1").innerText(), "Sign-in needed");
  });
  console.log(`all ${step} steps passed; screenshots in ${artifacts}`);
} catch (e) {
  console.log("FAILED");
  console.error(e);
  await page.screenshot({ path: join(artifacts, "failure.png"), fullPage: true }).catch(() => {});
  process.exitCode = 1;
} finally {
  await browser.close();
}
