// Электронный дневник: the parents' web page. One ES module, no build step, no dependencies.
//
// The gateway serves this page for every non-API path; routes use the History API. The page
// never sees a token: the gateway keeps the session in HttpOnly cookies. Every request sends
// `X-Diary-Client: web` (the gateway's CSRF guard) and retries once after refreshing the session
// on 401. The visible diary week is re-polled with If-None-Match every few seconds, so a mark a
// teacher records shows up without a reload; the unread notifications count in the menu is polled
// every 30 seconds while the page is visible. Pupils' names never go into the title or the URL.

const API = "/api/v1";
const POLL_MS = 5000;
const UNREAD_POLL_MS = 30000;
const FEED_PAGE = 20;
const CHILD_KEY = "diary.child";
const NEXT_KEY = "diary.next";
const APP_NAME = "Электронный дневник";

// --- Dates ------------------------------------------------------------------------------------

const WEEKDAYS = ["пн", "вт", "ср", "чт", "пт", "сб", "вс"];
const MONTHS = [
  "января", "февраля", "марта", "апреля", "мая", "июня",
  "июля", "августа", "сентября", "октября", "ноября", "декабря",
];
const ISO_DAY = /^\d{4}-\d{2}-\d{2}$/;

/** A "YYYY-MM-DD" day as a Date at UTC midnight (days never shift with the time zone). */
function dayToDate(iso) {
  const [y, m, d] = iso.slice(0, 10).split("-").map(Number);
  return new Date(Date.UTC(y, m - 1, d));
}

function dateToDay(date) {
  return date.toISOString().slice(0, 10);
}

function isDay(value) {
  return typeof value === "string" && ISO_DAY.test(value) && !Number.isNaN(dayToDate(value).getTime());
}

/** Today in the browser's own time zone. */
function today() {
  const now = new Date();
  const pad = (n) => String(n).padStart(2, "0");
  return `${now.getFullYear()}-${pad(now.getMonth() + 1)}-${pad(now.getDate())}`;
}

function addDays(iso, days) {
  const date = dayToDate(iso);
  date.setUTCDate(date.getUTCDate() + days);
  return dateToDay(date);
}

function mondayOf(iso) {
  const weekday = (dayToDate(iso).getUTCDay() + 6) % 7;
  return addDays(iso, -weekday);
}

/** «пн, 23 ноября» */
function formatDay(iso) {
  const date = dayToDate(iso);
  return `${WEEKDAYS[(date.getUTCDay() + 6) % 7]}, ${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]}`;
}

/** «23 ноября 2026» */
function formatDate(iso) {
  if (!iso) return "—";
  const date = dayToDate(iso);
  return `${date.getUTCDate()} ${MONTHS[date.getUTCMonth()]} ${date.getUTCFullYear()}`;
}

/** «23.11» */
function formatShortDate(iso) {
  const [, m, d] = iso.slice(0, 10).split("-");
  return `${d}.${m}`;
}

/** «23 ноября 2026, 14:05» in the browser's time zone. */
function formatMoment(timestamp) {
  if (!timestamp) return "—";
  const at = new Date(timestamp);
  if (Number.isNaN(at.getTime())) return timestamp;
  const time = `${String(at.getHours()).padStart(2, "0")}:${String(at.getMinutes()).padStart(2, "0")}`;
  return `${at.getDate()} ${MONTHS[at.getMonth()]} ${at.getFullYear()}, ${time}`;
}

/** "08:30:00" → "08:30" */
function formatTime(value) {
  return value ? value.slice(0, 5) : "";
}

/** «23 – 29 ноября 2026», «30 ноября – 6 декабря 2026», «29 декабря 2025 – 4 января 2026» */
function formatRange(from, to) {
  const a = dayToDate(from);
  const b = dayToDate(to);
  const end = `${b.getUTCDate()} ${MONTHS[b.getUTCMonth()]} ${b.getUTCFullYear()}`;
  if (a.getUTCFullYear() !== b.getUTCFullYear()) return `${formatDate(from)} – ${end}`;
  if (a.getUTCMonth() !== b.getUTCMonth()) return `${a.getUTCDate()} ${MONTHS[a.getUTCMonth()]} – ${end}`;
  return `${a.getUTCDate()} – ${end}`;
}

/** "4.33" → "4,33" */
function formatDecimal(value) {
  return value == null ? "—" : String(value).replace(".", ",");
}

/** 1 отметка, 2 отметки, 5 отметок */
function plural(n, one, few, many) {
  const tens = n % 100;
  const units = n % 10;
  if (tens >= 11 && tens <= 14) return many;
  if (units === 1) return one;
  if (units >= 2 && units <= 4) return few;
  return many;
}

// --- DOM --------------------------------------------------------------------------------------

/** h("p", {class: "x", testid: "y", onclick: f}, "text", child, [more]) */
function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value == null || value === false) continue;
    if (key === "class") el.className = value;
    else if (key === "testid") el.dataset.testid = value;
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key.startsWith("on")) el.addEventListener(key.slice(2), value);
    else if (value === true) el.setAttribute(key, "");
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : String(child));
  }
}

let uid = 0;
function nextId(prefix) {
  uid += 1;
  return `${prefix}-${uid}`;
}

/** Only http(s) links from the data become hrefs (never javascript:). */
function safeUrl(url) {
  try {
    const parsed = new URL(url, location.origin);
    return parsed.protocol === "http:" || parsed.protocol === "https:" ? parsed.href : null;
  } catch {
    return null;
  }
}

// --- API --------------------------------------------------------------------------------------

class ApiError extends Error {
  constructor(status, problem, retryAfter) {
    super((problem && (problem.detail || problem.title)) || `HTTP ${status}`);
    this.status = status;
    this.problem = problem || {};
    this.retryAfter = retryAfter;
  }
}

/** Thrown after the session could not be renewed; the page has gone to the login screen. */
class SignedOut extends Error {}

let refreshing = null;

/** One POST /session/refresh for all the calls that got 401 at the same time. */
function refreshSession() {
  if (!refreshing) {
    refreshing = fetch(`${API}/session/refresh`, {
      method: "POST",
      credentials: "same-origin",
      cache: "no-store",
      headers: { "X-Diary-Client": "web", Accept: "application/json" },
    })
      .then((response) => response.ok)
      .catch(() => false)
      .finally(() => setTimeout(() => { refreshing = null; }, 0));
  }
  return refreshing;
}

/**
 * Call the gateway. Options: body (JSON), etag (If-None-Match; a 304 answers {notModified}),
 * auth (false: a 401 is an answer, not an expired session), cache (fetch's cache mode).
 */
async function api(method, path, { body, etag, auth = true, cache = "no-cache" } = {}) {
  const url = path.startsWith("/") && !path.startsWith(API) ? `${API}${path}` : path;
  const headers = { "X-Diary-Client": "web", Accept: "application/json" };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  if (etag) headers["If-None-Match"] = etag;
  const send = () =>
    fetch(url, {
      method,
      headers,
      credentials: "same-origin",
      cache,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let response;
  try {
    response = await send();
    if (response.status === 401 && auth) {
      if (await refreshSession()) response = await send();
      if (response.status === 401) {
        signedOut();
        throw new SignedOut("the session ended");
      }
    }
  } catch (error) {
    if (error instanceof SignedOut) throw error;
    throw new ApiError(0, null);
  }
  if (response.status === 304) return { status: 304, notModified: true, etag };
  if (!response.ok) {
    let problem = null;
    try {
      problem = await response.json();
    } catch {
      problem = null;
    }
    const retry = Number.parseInt(response.headers.get("Retry-After") || "", 10);
    throw new ApiError(response.status, problem, Number.isFinite(retry) ? retry : null);
  }
  let data = null;
  if (response.status !== 204) {
    const text = await response.text();
    data = text ? JSON.parse(text) : null;
  }
  return { status: response.status, data, etag: response.headers.get("ETag"), headers: response.headers };
}

/** A Russian sentence for a failed call. */
function errorText(error, { login = false } = {}) {
  if (!(error instanceof ApiError)) return "Что-то пошло не так. Обновите страницу.";
  const { status, problem } = error;
  if (status === 0) return "Нет связи с сервером. Проверьте подключение к интернету.";
  if (status === 429) {
    const minutes = Math.max(1, Math.ceil((error.retryAfter || 60) / 60));
    return `Слишком много попыток, попробуйте через ${minutes} мин.`;
  }
  if (login && status === 401) return "Неверный адрес почты или пароль.";
  if (status >= 500) return "Сервис временно недоступен, попробуйте позже.";
  if (problem.detail) return problem.detail;
  if (status === 404) return "Не найдено.";
  if (status === 403) return "Нет доступа.";
  if (status === 422) return "Проверьте заполнение полей.";
  return problem.title || `Ошибка ${status}.`;
}

// --- State ------------------------------------------------------------------------------------

const state = {
  me: null, // GET /me
  children: null, // GET /children items
  childId: null,
  finalMarks: new Map(), // education_id → FinalMarks (periods for the pickers)
  schools: null,
  flash: null, // a message for the next page
};

let renderSeq = 0;
let poller = null;

const main = document.getElementById("main");
const sectionsNav = document.getElementById("sections");
const account = document.getElementById("account");
const childPicker = document.getElementById("child-picker");

function hasRole(role) {
  return Boolean(state.me && (state.me.roles || []).some((r) => r.role === role));
}

function childKey() {
  return state.me ? `${CHILD_KEY}.${state.me.account_id}` : CHILD_KEY;
}

function rememberChild(pupilId) {
  try {
    localStorage.setItem(childKey(), pupilId);
  } catch {
    /* private mode: not remembered */
  }
}

function rememberedChild() {
  try {
    return localStorage.getItem(childKey());
  } catch {
    return null;
  }
}

/** The enrolment whose diary we show: the active one, else the latest. */
function educationOf(child) {
  const educations = child.educations || [];
  const active = educations.filter((e) => e.is_active);
  const pool = active.length ? active : educations;
  return [...pool].sort((a, b) => String(a.enrolled_on || "").localeCompare(String(b.enrolled_on || ""))).pop() || null;
}

function childLabel(child) {
  const name = child.first_name || "Ребёнок";
  const same = state.children.filter((c) => (c.first_name || "") === (child.first_name || ""));
  const education = educationOf(child);
  return same.length > 1 && education && education.class_name ? `${name} (${education.class_name})` : name;
}

// --- Routing ----------------------------------------------------------------------------------

const SECTIONS = [
  { key: "week", title: "Дневник" },
  { key: "marks", title: "Оценки" },
  { key: "final", title: "Итоговые" },
  { key: "attendance", title: "Посещаемость" },
  { key: "teachers", title: "Учителя" },
  { key: "rating", title: "Рейтинг" },
  { key: "exams", title: "Экзамены" },
];

const ROUTES = [
  { path: /^\/login\/?$/, view: viewLogin, public: true },
  { path: /^\/registration\/?$/, view: viewRegistration, public: true },
  { path: /^\/registration\/confirm\/?$/, view: viewConfirmRegistration, public: true },
  { path: /^\/password\/forgot\/?$/, view: viewForgotPassword, public: true },
  { path: /^\/password\/reset\/?$/, view: viewResetPassword, public: true },
  { path: /^\/$/, view: viewHome },
  { path: /^\/children\/?$/, view: viewHome },
  { path: /^\/children\/([0-9a-fA-F-]{36})(?:\/(week|marks|final|attendance|teachers|rating|exams))?\/?$/, view: viewChild },
  { path: /^\/applications\/?$/, view: viewApplications, section: "applications" },
  { path: /^\/applications\/new\/?$/, view: viewApplicationForm, section: "applications" },
  { path: /^\/applications\/([0-9a-fA-F-]{36})\/?$/, view: viewApplication, section: "applications" },
  { path: /^\/notifications\/?$/, view: viewNotifications, section: "notifications" },
];

function navigate(href, { replace = false } = {}) {
  const url = new URL(href, location.origin);
  if (replace) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  render({ focus: !replace });
}

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest("a[data-link]");
  if (!link || link.target) return;
  event.preventDefault();
  navigate(link.getAttribute("href"));
});

window.addEventListener("popstate", () => render({ focus: true }));

document.addEventListener("visibilitychange", () => {
  if (document.visibilityState !== "visible") return;
  if (poller) poller.tick();
  refreshUnread();
});

document.getElementById("logout").addEventListener("click", async () => {
  try {
    await api("POST", "/session/logout", { auth: false });
  } catch {
    /* signed out locally anyway */
  }
  forgetSession();
  navigate("/login", { replace: true });
});

function forgetSession() {
  stopUnreadPolling();
  state.me = null;
  state.children = null;
  state.childId = null;
  state.finalMarks.clear();
  state.schools = null;
}

/** The session is over: remember where we were and show the login screen. */
function signedOut() {
  const wasSignedIn = Boolean(state.me);
  const here = location.pathname + location.search;
  forgetSession();
  stopPolling();
  if (!ROUTES.some((r) => r.public && r.path.test(location.pathname))) {
    try {
      sessionStorage.setItem(NEXT_KEY, here);
    } catch {
      /* fine */
    }
    if (wasSignedIn) state.flash = "Сеанс завершён. Войдите снова.";
    navigate("/login", { replace: true });
  }
}

function takeNext() {
  try {
    const next = sessionStorage.getItem(NEXT_KEY);
    sessionStorage.removeItem(NEXT_KEY);
    return next && next.startsWith("/") && !next.startsWith("//") ? next : "/";
  } catch {
    return "/";
  }
}

/** Load /me and the children once per session; false when the login screen was shown. */
async function ensureSession() {
  try {
    if (!state.me) state.me = (await api("GET", "/me")).data;
    if (!state.children) await loadChildren();
    return true;
  } catch (error) {
    if (error instanceof SignedOut) return false;
    throw error;
  }
}

async function loadChildren() {
  const answer = await api("GET", "/children");
  state.children = (answer.data && answer.data.items) || [];
}

async function render({ focus = false } = {}) {
  stopPolling();
  const seq = ++renderSeq;
  const url = new URL(location.href);
  const route = ROUTES.find((r) => r.path.test(url.pathname));
  const view = {
    seq,
    url,
    params: route ? url.pathname.match(route.path).slice(1) : [],
    get current() {
      return seq === renderSeq;
    },
  };
  main.setAttribute("aria-busy", "true");
  try {
    if (!route) {
      setChrome({ signedIn: Boolean(state.me) });
      show(view, "Страница не найдена", h("h1", { tabindex: "-1" }, "Страница не найдена"),
        h("p", {}, h("a", { href: "/", "data-link": true }, "На главную")));
      return;
    }
    if (route.public) {
      setChrome({ signedIn: false });
    } else {
      if (!(await ensureSession()) || !view.current) return;
      setChrome({ signedIn: true, section: route.section });
    }
    await route.view(view, ...view.params);
  } catch (error) {
    if (error instanceof SignedOut || !view.current) return;
    show(view, "Ошибка", h("h1", { tabindex: "-1" }, "Не удалось загрузить страницу"),
      h("p", { class: "alert", role: "alert", testid: "page-error" }, errorText(error)),
      h("p", {}, h("button", { type: "button", class: "button", onclick: () => render() }, "Повторить")));
  } finally {
    if (view.current) {
      main.removeAttribute("aria-busy");
      if (focus) (main.querySelector("h1") || main).focus({ preventScroll: false });
    }
  }
}

/** Put a view's content into <main> unless the user has already moved on. */
function show(view, title, ...nodes) {
  if (!view.current) return false;
  document.title = title ? `${title} — ${APP_NAME}` : APP_NAME;
  const flash = state.flash;
  state.flash = null;
  main.replaceChildren();
  append(main, [flash ? h("p", { class: "notice", role: "status", testid: "flash" }, flash) : null, nodes]);
  return true;
}

function showLoading(view, title) {
  if (!view.current) return;
  document.title = `${title} — ${APP_NAME}`;
  main.replaceChildren(h("p", { class: "loading", role: "status" }, "Загрузка…"));
}

// --- Header: account, child switcher, sections -------------------------------------------------

function setChrome({ signedIn, section = null, child = null }) {
  account.hidden = !signedIn;
  sectionsNav.hidden = !signedIn;
  if (!signedIn) {
    childPicker.replaceChildren();
    sectionsNav.replaceChildren();
    return;
  }
  renderChildPicker(child, section);
  renderSections(child, section);
}

function renderChildPicker(chosen, section) {
  const children = state.children || [];
  const current = chosen || children.find((c) => c.pupil_id === (state.childId || rememberedChild())) || null;
  if (children.length > 1) {
    const id = nextId("child");
    const select = h("select", { id, testid: "child-switcher", class: "child-switcher" },
      children.map((child) => h("option", { value: child.pupil_id, selected: current && child.pupil_id === current.pupil_id }, childLabel(child))));
    if (!current) select.prepend(h("option", { value: "", selected: true, disabled: true }, "Выберите ребёнка"));
    select.addEventListener("change", () => {
      rememberChild(select.value);
      const keep = SECTIONS.some((s) => s.key === section) ? section : "week";
      navigate(`/children/${select.value}/${keep}`);
    });
    childPicker.replaceChildren(h("label", { for: id, class: "visually-hidden" }, "Ребёнок"), select);
  } else if (children.length === 1) {
    childPicker.replaceChildren(h("span", { class: "child-name", testid: "child-name" }, childLabel(children[0])));
  } else {
    childPicker.replaceChildren();
  }
}

function renderSections(current, section) {
  const children = state.children || [];
  const child = current || children.find((c) => c.pupil_id === (state.childId || rememberedChild())) || children[0];
  const links = [];
  if (child) {
    for (const item of SECTIONS) {
      links.push(h("a", {
        href: `/children/${child.pupil_id}/${item.key}`,
        "data-link": true,
        testid: `nav-${item.key}`,
        "aria-current": item.key === section ? "page" : null,
      }, item.title));
    }
  }
  if (hasRole("parent") || !children.length) {
    links.push(h("a", {
      href: "/applications",
      "data-link": true,
      testid: "nav-applications",
      "aria-current": section === "applications" ? "page" : null,
    }, "Заявления"));
  }
  if (hasRole("parent")) {
    links.push(h("a", {
      href: "/notifications",
      "data-link": true,
      testid: "nav-notifications",
      class: "nav-notifications",
      "aria-current": section === "notifications" ? "page" : null,
    }, "Уведомления", unreadBadge()));
    startUnreadPolling();
  }
  sectionsNav.replaceChildren(h("ul", {}, links.map((link) => h("li", {}, link))));
  const active = sectionsNav.querySelector("[aria-current]");
  if (active && active.scrollIntoView) active.scrollIntoView({ block: "nearest", inline: "nearest" });
}

// --- Forms ------------------------------------------------------------------------------------

/** A labelled input with a slot for its error message; `name` is the API's field path. */
function field({ label, name, type = "text", testid, required = false, autocomplete, hint, value, inputmode, attrs = {} }) {
  const id = nextId("f");
  const errorId = `${id}-error`;
  const hintId = hint ? `${id}-hint` : null;
  const input = h("input", {
    id, name, type, required, autocomplete, inputmode, value,
    testid, "aria-describedby": [hintId, errorId].filter(Boolean).join(" "), ...attrs,
  });
  return h("div", { class: "field" },
    h("label", { for: id }, label, required ? null : h("span", { class: "optional" }, " (необязательно)")),
    hint ? h("p", { class: "hint", id: hintId }, hint) : null,
    input,
    h("p", { class: "field-error", id: errorId, testid: `error-${name}`, hidden: true }));
}

function formError(testid = "form-error") {
  return h("div", { class: "alert", role: "alert", testid, hidden: true });
}

function clearErrors(form) {
  for (const el of form.querySelectorAll(".field-error")) {
    el.textContent = "";
    el.hidden = true;
  }
  for (const el of form.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
  const summary = form.querySelector(".alert");
  if (summary) {
    summary.replaceChildren();
    summary.hidden = true;
  }
}

function setFieldError(form, name, message) {
  const inputs = [...form.elements].filter((el) => el.name === name);
  const slot = form.querySelector(`[data-testid="error-${CSS.escape(name)}"]`);
  if (!inputs.length || !slot) return false;
  for (const input of inputs) input.setAttribute("aria-invalid", "true");
  slot.textContent = slot.textContent ? `${slot.textContent} ${message}` : message;
  slot.hidden = false;
  return true;
}

function setFormError(form, ...messages) {
  const summary = form.querySelector(".alert");
  if (!summary) return;
  summary.replaceChildren(...messages.map((m) => h("p", {}, m)));
  summary.hidden = false;
}

/** Show a refusal: field messages next to their inputs, the detail above the button. */
function showProblem(form, error, options = {}) {
  clearErrors(form);
  const unplaced = [];
  const errors = (error instanceof ApiError && Array.isArray(error.problem.errors)) ? error.problem.errors : [];
  for (const item of errors) {
    const name = String(item.field || "").replace(/^body\./, "");
    if (!setFieldError(form, name, item.message || "Неверное значение")) {
      if (item.message && item.message !== error.problem.detail) unplaced.push(item.message);
    }
  }
  setFormError(form, errorText(error, options), ...unplaced);
  const invalid = form.querySelector("[aria-invalid='true']");
  if (invalid) invalid.focus();
}

/** Client-side check of the required fields; true when the form may go. */
function checkRequired(form) {
  clearErrors(form);
  let ok = true;
  for (const el of form.querySelectorAll("[required]")) {
    const empty = el.type === "checkbox" ? !el.checked : el.type === "radio"
      ? !form.querySelector(`[name="${CSS.escape(el.name)}"]:checked`) : !el.value.trim();
    if (empty && !form.querySelector(`[data-testid="error-${CSS.escape(el.name)}"]:not([hidden])`)) {
      setFieldError(form, el.name, "Заполните это поле.");
      ok = false;
    }
  }
  if (!ok) {
    setFormError(form, "Заполните обязательные поля.");
    const invalid = form.querySelector("[aria-invalid='true']");
    if (invalid) invalid.focus();
  }
  return ok;
}

/** Disable the submit button while a request runs. */
async function busy(form, work) {
  const button = form.querySelector("button[type=submit]");
  const label = button ? button.textContent : "";
  if (button) {
    button.disabled = true;
    button.textContent = "Подождите…";
  }
  try {
    return await work();
  } finally {
    if (button) {
      button.disabled = false;
      button.textContent = label;
    }
  }
}

// --- Sign-in, registration, password ---------------------------------------------------------

function authCard(...nodes) {
  return h("section", { class: "auth-card" }, ...nodes);
}

async function afterSignIn() {
  forgetSession();
  navigate(takeNext(), { replace: true });
}

function viewLogin(view) {
  const error = view.url.searchParams.get("error");
  const form = h("form", { class: "form", testid: "login-form", novalidate: true },
    field({ label: "Электронная почта", name: "email", type: "email", testid: "login-email", required: true, autocomplete: "username", inputmode: "email" }),
    field({ label: "Пароль", name: "password", type: "password", testid: "login-password", required: true, autocomplete: "current-password" }),
    formError(),
    h("button", { type: "submit", class: "button button-primary button-wide", testid: "login-submit" }, "Войти"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    await busy(form, async () => {
      try {
        await api("POST", "/session", { auth: false, body: { email: form.email.value.trim(), password: form.password.value } });
        await afterSignIn();
      } catch (err) {
        showProblem(form, err, { login: true });
      }
    });
  });
  show(view, "Вход", authCard(
    h("h1", { tabindex: "-1" }, "Вход в дневник"),
    error === "esia" ? h("p", { class: "alert", role: "alert", testid: "esia-error" }, "Не удалось войти через Госуслуги.") : null,
    form,
    h("p", { class: "or" }, h("span", {}, "или")),
    h("a", { class: "button button-esia button-wide", href: "/federated/esia/login", testid: "esia-login" }, "Войти через Госуслуги"),
    h("ul", { class: "auth-links" },
      h("li", {}, h("a", { href: "/password/forgot", "data-link": true, testid: "forgot-link" }, "Забыли пароль?")),
      h("li", {}, "Нет учётной записи? ", h("a", { href: "/registration", "data-link": true, testid: "register-link" }, "Зарегистрироваться")))));
}

function emailRequestView(view, { title, heading, intro, path, testid, sent }) {
  const form = h("form", { class: "form", testid: `${testid}-form`, novalidate: true },
    field({ label: "Электронная почта", name: "email", type: "email", testid: `${testid}-email`, required: true, autocomplete: "email", inputmode: "email" }),
    formError(),
    h("button", { type: "submit", class: "button button-primary button-wide", testid: `${testid}-submit` }, "Отправить письмо"));
  const card = authCard(h("h1", { tabindex: "-1" }, heading), h("p", {}, intro), form,
    h("p", { class: "auth-links" }, h("a", { href: "/login", "data-link": true }, "Вернуться ко входу")));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    await busy(form, async () => {
      try {
        const email = form.email.value.trim();
        await api("POST", path, { auth: false, body: { email } });
        card.replaceChildren(
          h("h1", { tabindex: "-1" }, "Проверьте почту"),
          h("p", { class: "notice", role: "status", testid: `${testid}-sent` }, sent(email)),
          h("p", { class: "auth-links" }, h("a", { href: "/login", "data-link": true }, "Вернуться ко входу")));
        card.querySelector("h1").focus();
      } catch (err) {
        showProblem(form, err);
      }
    });
  });
  show(view, title, card);
}

function viewRegistration(view) {
  emailRequestView(view, {
    title: "Регистрация",
    heading: "Регистрация",
    intro: "Укажите адрес электронной почты. Мы пришлём ссылку, по которой вы зададите пароль.",
    path: "/registrations",
    testid: "registration",
    sent: (email) => `Мы отправили письмо на ${email}. Откройте ссылку из письма, чтобы задать пароль. Если письма нет, проверьте папку «Спам».`,
  });
}

function viewForgotPassword(view) {
  emailRequestView(view, {
    title: "Восстановление пароля",
    heading: "Восстановление пароля",
    intro: "Укажите адрес, с которым вы регистрировались. Мы пришлём ссылку для нового пароля.",
    path: "/password-resets",
    testid: "reset-request",
    sent: (email) => `Если адрес ${email} зарегистрирован, мы отправили на него письмо со ссылкой для нового пароля.`,
  });
}

/** The password form of an e-mailed link (registration or reset). */
function passwordForm(token, path, submitLabel) {
  const form = h("form", { class: "form", testid: "password-form", novalidate: true },
    field({ label: "Пароль", name: "password", type: "password", testid: "new-password", required: true, autocomplete: "new-password",
      hint: "Не короче 12 символов. Лучше всего — фраза из нескольких слов." }),
    field({ label: "Пароль ещё раз", name: "password_repeat", type: "password", testid: "new-password-repeat", required: true, autocomplete: "new-password" }),
    formError(),
    h("button", { type: "submit", class: "button button-primary button-wide", testid: "password-submit" }, submitLabel));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    if (form.password.value !== form.password_repeat.value) {
      setFieldError(form, "password_repeat", "Пароли не совпадают.");
      setFormError(form, "Пароли не совпадают.");
      form.password_repeat.focus();
      return;
    }
    await busy(form, async () => {
      try {
        await api("POST", path, { auth: false, body: { token, password: form.password.value } });
        await afterSignIn();
      } catch (err) {
        showProblem(form, err);
      }
    });
  });
  return form;
}

function brokenLink(view, title, message, again) {
  show(view, title, authCard(
    h("h1", { tabindex: "-1" }, title),
    h("p", { class: "alert", role: "alert", testid: "link-error" }, message),
    h("p", { class: "auth-links" }, again)));
}

async function viewConfirmRegistration(view) {
  const token = view.url.searchParams.get("token") || "";
  const again = h("a", { href: "/registration", "data-link": true }, "Зарегистрироваться ещё раз");
  if (!token) return brokenLink(view, "Подтверждение адреса", "В ссылке нет кода подтверждения. Откройте ссылку из письма целиком.", again);
  showLoading(view, "Подтверждение адреса");
  let email;
  try {
    email = (await api("GET", `/registrations/confirmation?token=${encodeURIComponent(token)}`, { auth: false })).data.email;
  } catch (err) {
    const message = err instanceof ApiError && (err.status === 422 || err.status === 404)
      ? "Ссылка недействительна или устарела. Зарегистрируйтесь ещё раз — мы пришлём новую."
      : errorText(err);
    return brokenLink(view, "Подтверждение адреса", message, again);
  }
  show(view, "Подтверждение адреса", authCard(
    h("h1", { tabindex: "-1" }, "Задайте пароль"),
    h("p", {}, "Адрес ", h("strong", { testid: "confirm-email" }, email), " подтверждается. Придумайте пароль для входа в дневник."),
    passwordForm(token, "/registrations/confirmation", "Сохранить пароль и войти")));
}

function viewResetPassword(view) {
  const token = view.url.searchParams.get("token") || "";
  if (!token) {
    return brokenLink(view, "Новый пароль", "В ссылке нет кода. Откройте ссылку из письма целиком.",
      h("a", { href: "/password/forgot", "data-link": true }, "Запросить новую ссылку"));
  }
  show(view, "Новый пароль", authCard(
    h("h1", { tabindex: "-1" }, "Новый пароль"),
    h("p", {}, "Придумайте новый пароль. Старый перестанет действовать."),
    passwordForm(token, "/password-resets/completion", "Сохранить пароль и войти"),
    h("p", { class: "auth-links" }, h("a", { href: "/password/forgot", "data-link": true }, "Запросить новую ссылку"))));
}

// --- Home and the child's diary ---------------------------------------------------------------

function viewHome(view) {
  const children = state.children;
  if (children.length) {
    const remembered = children.find((c) => c.pupil_id === rememberedChild());
    navigate(`/children/${(remembered || children[0]).pupil_id}/week`, { replace: true });
    return;
  }
  if (hasRole("parent") || !hasRole("pupil")) {
    navigate("/applications", { replace: true });
    return;
  }
  show(view, "Дневник", h("h1", { tabindex: "-1" }, "Дневник"),
    h("p", { class: "empty" }, "Дневник появится, когда школа внесёт вас в списки класса."));
}

async function viewChild(view, pupilId, section = "week") {
  const child = state.children.find((c) => c.pupil_id === pupilId);
  const title = SECTIONS.find((s) => s.key === section).title;
  if (!child) {
    setChrome({ signedIn: true });
    show(view, title, h("h1", { tabindex: "-1" }, "Нет доступа"),
      h("p", { class: "alert", role: "alert", testid: "no-access" }, "Этот дневник вам недоступен. Доступ даёт школа по заявлению родителя."),
      h("p", {}, h("a", { href: "/", "data-link": true }, "На главную")));
    return;
  }
  state.childId = pupilId;
  rememberChild(pupilId);
  setChrome({ signedIn: true, section, child });
  const education = educationOf(child);
  if (!education) {
    show(view, title, h("h1", { tabindex: "-1" }, title),
      h("p", { class: "empty" }, "Школа ещё не внесла ученика в класс. Дневник появится после зачисления."));
    return;
  }
  const ctx = { view, child, education, title, base: `/diary/${education.education_id}` };
  showLoading(view, title);
  const views = { week: viewWeek, marks: viewMarks, final: viewFinalMarks, attendance: viewAttendance, teachers: viewTeachers, rating: viewRating, exams: viewExams };
  try {
    await views[section](ctx);
  } catch (error) {
    if (!(error instanceof ApiError && error.status === 404)) throw error;
    state.children = null; // the access may have ended: reload the list next time
    show(view, title, h("h1", { tabindex: "-1" }, title),
      h("p", { class: "alert", role: "alert", testid: "no-access" }, "Дневник недоступен. Возможно, доступ закрыт школой или отозвано согласие."),
      h("p", {}, h("a", { href: "/", "data-link": true }, "На главную")));
  }
}

function schoolLine(education) {
  return h("p", { class: "school-line", testid: "school-line" },
    [education.school_name, education.class_name ? `${education.class_name} класс` : null].filter(Boolean).join(" · "));
}

function heading(ctx, ...extra) {
  return h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, ctx.title), schoolLine(ctx.education), ...extra);
}

// --- Week -------------------------------------------------------------------------------------

const ATTENDANCE_REASON = { excused: "уважительная причина", unexcused: "без уважительной причины", illness: "болезнь" };
const HOMEWORK_KIND = { written: "письменно", oral: "устно", reading: "чтение", project: "проект", test_preparation: "подготовка к контрольной", other: "" };

function markClass(value) {
  return /^[1-5]$/.test(value) ? `mark mark-${value}` : "mark mark-other";
}

function markTitle(mark) {
  return [
    mark.work_type,
    mark.weight ? `вес ${mark.weight}` : null,
    mark.lesson_date ? formatDay(mark.lesson_date) : null,
    mark.teacher_name,
  ].filter(Boolean).join(", ");
}

/** One mark: the value alone in [data-testid=mark], the work type beside it. */
function markItem(mark, { showSubject = false } = {}) {
  return h("li", { class: "mark-item", dataset: { markId: mark.mark_id } },
    h("span", { class: markClass(mark.value), testid: "mark", title: markTitle(mark) }, mark.value),
    h("span", { class: "mark-info" },
      showSubject && mark.subject_name ? h("span", { class: "mark-subject" }, mark.subject_name, ": ") : null,
      h("span", { class: "work-type", testid: "work-type" }, mark.work_type),
      mark.corrected_at ? h("span", { class: "tag", title: mark.correction_reason || "" }, "исправлена") : null,
      mark.comment ? h("span", { class: "mark-comment" }, mark.comment) : null));
}

function attendanceLine(attendance) {
  if (!attendance || attendance.status === "present") return null;
  if (attendance.status === "late") {
    return h("p", { class: "attendance attendance-late", testid: "attendance" },
      h("span", { class: "badge badge-warn" }, "ОП"),
      attendance.minutes_late ? ` Опоздание на ${attendance.minutes_late} мин.` : " Опоздание");
  }
  const reason = ATTENDANCE_REASON[attendance.absence_reason || "unexcused"] || "";
  const text = attendance.absence_reason === "illness" ? "Отсутствие по болезни" : `Отсутствие${reason ? ` (${reason})` : ""}`;
  return h("p", { class: "attendance attendance-absent", testid: "attendance" }, h("span", { class: "badge badge-bad" }, "Н"), ` ${text}`);
}

function attachments(items) {
  const links = (items || []).map((a) => ({ title: a.title, url: safeUrl(a.url) })).filter((a) => a.url);
  if (!links.length) return null;
  return h("ul", { class: "attachments" }, links.map((a) => h("li", {}, h("a", { href: a.url, target: "_blank", rel: "noopener noreferrer" }, a.title || "Файл"))));
}

function homeworkBlock(homework, { due = false } = {}) {
  const kind = HOMEWORK_KIND[homework.kind];
  return h("div", { class: "homework", testid: "homework" },
    h("span", { class: "homework-label" },
      due ? (homework.subject_name || "Задание") : `Д/з${homework.due_on ? ` к ${formatDay(homework.due_on)}` : ""}`,
      kind ? ` (${kind})` : "", ": "),
    h("span", { class: "homework-text" }, homework.text),
    attachments(homework.attachments));
}

function lessonItem(lesson) {
  const cancelled = lesson.status === "cancelled";
  const time = lesson.starts_at ? `${formatTime(lesson.starts_at)}–${formatTime(lesson.ends_at)}` : "";
  return h("li", { class: `lesson${cancelled ? " lesson-cancelled" : ""}`, testid: "lesson", dataset: { lessonNumber: lesson.lesson_number } },
    h("div", { class: "lesson-head" },
      h("span", { class: "lesson-number", "aria-label": `Урок ${lesson.lesson_number}` }, lesson.lesson_number),
      h("span", { class: "lesson-subject", testid: "lesson-subject" }, lesson.subject_name || (cancelled ? "Урок отменён" : "Урок")),
      time ? h("span", { class: "lesson-time" }, time) : null),
    lesson.teacher_name || lesson.room ? h("p", { class: "lesson-meta muted" },
      [lesson.teacher_name, lesson.room ? `каб. ${lesson.room}` : null].filter(Boolean).join(" · ")) : null,
    cancelled ? h("p", { class: "tag tag-bad" }, "Отменён", lesson.change_reason ? `: ${lesson.change_reason}` : "") : null,
    lesson.status === "substituted" ? h("p", { class: "tag" }, "Замена", lesson.change_reason ? `: ${lesson.change_reason}` : "") : null,
    lesson.lesson_topic ? h("p", { class: "lesson-topic" }, h("span", { class: "muted" }, "Тема: "), lesson.lesson_topic) : null,
    lesson.description ? h("p", { class: "lesson-description muted" }, lesson.description) : null,
    (lesson.homework || []).map((hw) => homeworkBlock(hw)),
    lesson.marks && lesson.marks.length ? h("ul", { class: "marks", "aria-label": "Отметки" }, lesson.marks.map((m) => markItem(m))) : null,
    attendanceLine(lesson.attendance),
    (lesson.remarks || []).map((remark) => h("p", { class: "remark", testid: "remark" },
      h("span", { class: "remark-label" }, "Замечание"), remark.teacher_name ? ` (${remark.teacher_name})` : "", `: ${remark.text}`)));
}

function dayCard(day, todayIso) {
  const lessons = day.lessons || [];
  const due = day.homework_due || [];
  const other = day.other_marks || [];
  const weekend = day.weekday >= 6;
  if (weekend && !lessons.length && !due.length && !other.length) return null;
  const headingId = `day-${day.date}`;
  return h("section", { class: `day${day.date === todayIso ? " day-today" : ""}`, testid: "day", dataset: { date: day.date }, "aria-labelledby": headingId },
    h("h2", { id: headingId, class: "day-title" }, formatDay(day.date), day.date === todayIso ? h("span", { class: "today-tag" }, "сегодня") : null),
    lessons.length ? h("ol", { class: "lessons" }, lessons.map(lessonItem)) : h("p", { class: "empty" }, "Уроков нет"),
    other.length ? h("div", { class: "day-extra" }, h("h3", {}, "Другие отметки"),
      h("ul", { class: "marks" }, other.map((m) => markItem(m, { showSubject: true })))) : null,
    due.length ? h("details", { class: "day-extra" }, h("summary", {}, `Задано на этот день: ${due.length}`),
      due.map((hw) => homeworkBlock(hw, { due: true }))) : null);
}

function weekDays(week) {
  const todayIso = today();
  const cards = (week.days || []).map((day) => dayCard(day, todayIso)).filter(Boolean);
  return cards.length ? cards : [h("p", { class: "empty" }, "На этой неделе уроков нет.")];
}

async function viewWeek(ctx) {
  const { view } = ctx;
  const asked = view.url.searchParams.get("date");
  const on = isDay(asked) ? asked : today();
  const monday = mondayOf(on);
  const path = `${ctx.base}/week?date=${monday}`;
  let answer = await api("GET", path, { cache: "no-store" });
  let etag = answer.etag;
  const week = answer.data;
  const link = (date, label, testid, text) => h("a", { class: "button button-quiet", href: `/children/${ctx.child.pupil_id}/week?date=${date}`, "data-link": true, testid, "aria-label": label }, text);
  const thisWeek = mondayOf(today()) === monday;
  const status = h("p", { class: "live-status muted", role: "status", testid: "live-status" });
  const days = h("div", { class: "days", testid: "week", dataset: { weekStart: week.week_start } }, weekDays(week));
  const shown = show(view, ctx.title,
    heading(ctx),
    h("div", { class: "week-bar" },
      link(addDays(monday, -7), "Предыдущая неделя", "week-prev", "‹"),
      h("p", { class: "week-range", testid: "week-range" }, formatRange(week.week_start, week.week_end)),
      link(addDays(monday, 7), "Следующая неделя", "week-next", "›")),
    thisWeek ? null : h("p", { class: "week-today" }, link(today(), null, "week-today", "К текущей неделе")),
    days,
    status);
  if (!shown) return;
  const todayCard = thisWeek && days.querySelector(".day-today");
  if (todayCard && window.matchMedia("(max-width: 719px)").matches && today() !== monday) {
    todayCard.scrollIntoView({ block: "start" }); // on a phone, open the week at today
  }
  // The visible week follows the journal: a new mark appears within seconds.
  startPolling(async () => {
    try {
      answer = await api("GET", path, { etag, cache: "no-store" });
      status.textContent = "";
    } catch (error) {
      if (error instanceof ApiError && error.status === 0) status.textContent = "Нет связи с сервером — данные могут быть устаревшими.";
      throw error;
    }
    if (answer.notModified || !view.current) return;
    etag = answer.etag;
    days.replaceChildren(...weekDays(answer.data));
  });
}

function startPolling(fn) {
  stopPolling();
  const poll = { busy: false };
  poll.tick = async () => {
    if (poller !== poll || poll.busy || document.visibilityState !== "visible") return;
    poll.busy = true;
    try {
      await fn();
    } catch {
      /* the next tick tries again; a lost session has already shown the login screen */
    } finally {
      poll.busy = false;
    }
  };
  poll.timer = setInterval(poll.tick, POLL_MS);
  poller = poll;
}

function stopPolling() {
  if (poller) clearInterval(poller.timer);
  poller = null;
}

// --- Periods (marks, attendance, rating) ------------------------------------------------------

const PERIOD_KIND_ORDER = { quarter: 0, half_year: 1, year: 2 };

async function finalMarksOf(ctx) {
  const key = ctx.education.education_id;
  if (!state.finalMarks.has(key)) {
    state.finalMarks.set(key, (await api("GET", `${ctx.base}/final-marks`)).data);
  }
  return state.finalMarks.get(key);
}

/** The school year that contains today, else the latest one. */
function currentYear(finalMarks) {
  const years = (finalMarks && finalMarks.years) || [];
  const now = today();
  return years.find((y) => y.starts_on && y.ends_on && y.starts_on <= now && now <= y.ends_on)
    || [...years].sort((a, b) => String(a.starts_on || "").localeCompare(String(b.starts_on || ""))).pop()
    || null;
}

function sortedPeriods(year) {
  return [...((year && year.periods) || [])].sort((a, b) =>
    (PERIOD_KIND_ORDER[a.kind] ?? 9) - (PERIOD_KIND_ORDER[b.kind] ?? 9) || a.starts_on.localeCompare(b.starts_on));
}

/** What the URL asks for (period_id or from/to), else the period that contains today. */
function chosenRange(url, periods, year) {
  const periodId = url.searchParams.get("period_id");
  const from = url.searchParams.get("from");
  const to = url.searchParams.get("to");
  if (periodId && periods.some((p) => p.period_id === periodId)) return { periodId };
  if (isDay(from) && isDay(to)) return { from, to };
  // Periods come sorted shortest kind first: a quarter beats a half-year beats the year.
  const now = today();
  const containing = periods.find((p) => p.starts_on <= now && now <= p.ends_on);
  if (containing) return { periodId: containing.period_id };
  const started = periods.filter((p) => p.starts_on <= now);
  const kind = started.length ? started[0].kind : null;
  const latest = started.filter((p) => p.kind === kind).pop();
  if (latest) return { periodId: latest.period_id };
  const yearStart = year && year.starts_on && year.starts_on <= now ? year.starts_on : `${Number(now.slice(0, 4)) - (Number(now.slice(5, 7)) < 9 ? 1 : 0)}-09-01`;
  return { from: yearStart, to: now };
}

function rangeQuery(range) {
  return range.periodId ? `period_id=${encodeURIComponent(range.periodId)}` : `from=${range.from}&to=${range.to}`;
}

function rangeText(range, periods) {
  if (range.periodId) {
    const period = periods.find((p) => p.period_id === range.periodId);
    return period ? `${period.name}: ${formatRange(period.starts_on, period.ends_on)}` : "";
  }
  return formatRange(range.from, range.to);
}

/** Period select plus a from/to form; choosing navigates (the URL holds the choice). */
function periodPicker(ctx, periods, range, section) {
  const selectId = nextId("period");
  const custom = !range.periodId;
  const select = h("select", { id: selectId, name: "period", testid: "period-select" },
    periods.map((p) => h("option", { value: p.period_id, selected: p.period_id === range.periodId }, p.name)),
    h("option", { value: "range", selected: custom }, "Свои даты…"));
  const dates = h("div", { class: "range", hidden: !custom },
    h("label", {}, "С ", h("input", { type: "date", name: "from", required: true, value: range.from || "", testid: "range-from" })),
    h("label", {}, "по ", h("input", { type: "date", name: "to", required: true, value: range.to || "", testid: "range-to" })),
    h("button", { type: "submit", class: "button", testid: "range-apply" }, "Показать"));
  const form = h("form", { class: "period-picker", testid: "period-picker" },
    h("div", { class: "period-choice" }, h("label", { for: selectId }, "Период"), select), dates,
    h("p", { class: "field-error", role: "alert", hidden: true }));
  const go = (query) => navigate(`/children/${ctx.child.pupil_id}/${section}?${query}`);
  select.addEventListener("change", () => {
    if (select.value === "range") {
      dates.hidden = false;
      const now = today();
      if (!form.from.value) form.from.value = addDays(now, -30);
      if (!form.to.value) form.to.value = now;
      form.from.focus();
    } else {
      go(`period_id=${encodeURIComponent(select.value)}`);
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const error = form.querySelector(".field-error");
    const from = form.from.value;
    const to = form.to.value;
    if (!isDay(from) || !isDay(to) || from > to) {
      error.textContent = "Укажите обе даты; начало не позже конца.";
      error.hidden = false;
      return;
    }
    go(`from=${from}&to=${to}`);
  });
  return h("div", { class: "toolbar" }, form, h("p", { class: "range-text muted", testid: "range-text" }, rangeText(range, periods)));
}

async function periodContext(ctx, section) {
  let finalMarks = null;
  try {
    finalMarks = await finalMarksOf(ctx);
  } catch (error) {
    if (error instanceof SignedOut) throw error;
    finalMarks = null; // without periods the dates still work
  }
  const year = currentYear(finalMarks);
  const periods = sortedPeriods(year);
  const range = chosenRange(ctx.view.url, periods, year);
  return { periods, range, picker: periodPicker(ctx, periods, range, section) };
}

// --- Marks ------------------------------------------------------------------------------------

/** Every page of the marks (the gateway pages them; averages cover the whole range). */
async function allMarks(ctx, query) {
  let answer = await api("GET", `${ctx.base}/marks?${query}&per_page=500`);
  const body = answer.data;
  const marks = [...(body.marks || [])];
  for (let pages = 1; pages < 50; pages += 1) {
    const next = nextLink(answer.headers.get("Link"));
    if (!next) break;
    answer = await api("GET", next);
    marks.push(...(answer.data.marks || []));
  }
  return { ...body, marks };
}

function nextLink(header) {
  if (!header) return null;
  for (const part of header.split(",")) {
    const match = part.match(/<([^>]+)>\s*;\s*rel="?next"?/);
    if (match) {
      // The gateway's own URL for the next page; only its path matters (same origin).
      const url = new URL(match[1], location.origin);
      return url.pathname.startsWith(`${API}/`) ? url.pathname + url.search : null;
    }
  }
  return null;
}

async function viewMarks(ctx) {
  const { periods, range, picker } = await periodContext(ctx, "marks");
  const data = await allMarks(ctx, rangeQuery(range));
  const names = new Map((data.subjects || []).map((s) => [s.subject_id, s.name]));
  const averages = new Map((data.averages || []).map((a) => [a.subject_id, a]));
  const bySubject = new Map();
  for (const mark of data.marks || []) {
    if (!bySubject.has(mark.subject_id)) bySubject.set(mark.subject_id, []);
    bySubject.get(mark.subject_id).push(mark);
    if (!names.get(mark.subject_id) && mark.subject_name) names.set(mark.subject_id, mark.subject_name);
  }
  const subjectIds = [...new Set([...averages.keys(), ...bySubject.keys()])]
    .sort((a, b) => (names.get(a) || "").localeCompare(names.get(b) || "", "ru"));
  const cards = subjectIds.map((id) => {
    const marks = (bySubject.get(id) || []).sort((a, b) => a.lesson_date.localeCompare(b.lesson_date) || (a.lesson_number || 0) - (b.lesson_number || 0));
    const average = averages.get(id);
    const count = average ? average.marks : marks.length;
    return h("section", { class: "card subject-card", testid: "subject-marks", dataset: { subjectId: id } },
      h("div", { class: "subject-head" },
        h("h2", {}, names.get(id) || "Предмет"),
        h("p", { class: "average", title: "Средний балл с учётом веса работ" },
          h("span", { class: "visually-hidden" }, "Средний балл: "),
          h("span", { testid: "average", class: averageClass(average && average.weighted_average) }, formatDecimal(average && average.weighted_average)))),
      h("p", { class: "muted small" }, `${count} ${plural(count, "отметка", "отметки", "отметок")}`),
      marks.length ? h("ul", { class: "mark-strip" }, marks.map((mark) =>
        h("li", { class: "mark-cell", dataset: { markId: mark.mark_id } },
          h("span", { class: markClass(mark.value), testid: "mark", title: markTitle(mark) }, mark.value),
          h("span", { class: "mark-date" }, formatShortDate(mark.lesson_date))))) : null);
  });
  show(ctx.view, ctx.title, heading(ctx), picker,
    cards.length ? h("div", { class: "cards" }, cards) : h("p", { class: "empty" }, "За этот период отметок нет."));
}

function averageClass(value) {
  if (value == null) return "average-value";
  const n = Number(value);
  return `average-value ${n >= 4.5 ? "avg-5" : n >= 3.5 ? "avg-4" : n >= 2.5 ? "avg-3" : "avg-2"}`;
}

// --- Final marks ------------------------------------------------------------------------------

function finalTable(year) {
  const periods = sortedPeriods(year);
  if (!periods.length || !(year.subjects || []).length) return h("p", { class: "empty" }, "Итоговых отметок пока нет.");
  const subjects = [...year.subjects].sort((a, b) => (a.subject_name || "").localeCompare(b.subject_name || "", "ru"));
  return h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": `Итоговые отметки: ${year.name || ""}` },
    h("table", { class: "table final-table", testid: "final-marks-table" },
      h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Предмет"), periods.map((p) => h("th", { scope: "col", title: formatRange(p.starts_on, p.ends_on) }, p.name)))),
      h("tbody", {}, subjects.map((subject) => {
        const byPeriod = new Map((subject.marks || []).map((m) => [m.period_id, m]));
        return h("tr", {}, h("th", { scope: "row" }, subject.subject_name || "Предмет"), periods.map((p) => {
          const mark = byPeriod.get(p.period_id);
          return h("td", {}, mark
            ? h("span", { class: markClass(mark.value), testid: "final-mark", title: mark.suggested_average ? `Средний балл ${formatDecimal(mark.suggested_average)}` : null }, mark.value)
            : h("span", { class: "muted", "aria-label": "нет" }, "—"));
        }));
      }))));
}

async function viewFinalMarks(ctx) {
  const data = (await api("GET", `${ctx.base}/final-marks`)).data;
  state.finalMarks.set(ctx.education.education_id, data);
  const current = currentYear(data);
  const years = [...(data.years || [])].sort((a, b) => String(b.starts_on || "").localeCompare(String(a.starts_on || "")));
  const past = years.filter((y) => y !== current);
  const yearTitle = (y) => y.name || (y.starts_on ? `${y.starts_on.slice(0, 4)}/${y.ends_on ? y.ends_on.slice(0, 4) : ""} учебный год` : "Учебный год");
  show(ctx.view, ctx.title, heading(ctx),
    current ? h("section", { class: "card", testid: "final-year" }, h("h2", {}, yearTitle(current)), finalTable(current))
      : h("p", { class: "empty" }, "Итоговых отметок пока нет."),
    past.length ? h("h2", { class: "section-title" }, "Прошлые годы") : null,
    past.map((y) => h("details", { class: "card", testid: "final-year" }, h("summary", {}, yearTitle(y)), finalTable(y))));
}

// --- Attendance -------------------------------------------------------------------------------

async function viewAttendance(ctx) {
  const { range, picker } = await periodContext(ctx, "attendance");
  const data = (await api("GET", `${ctx.base}/attendance?${rangeQuery(range)}`)).data;
  const row = (label, a, testid) => h("tr", { testid },
    h("th", { scope: "row" }, label),
    [a.missed, a.excused, a.unexcused, a.illness, a.late].map((n) => h("td", {}, n ? String(n) : h("span", { class: "muted" }, "0"))));
  const subjects = [...(data.subjects || [])].sort((a, b) => (a.subject_name || "").localeCompare(b.subject_name || "", "ru"));
  const total = data.total || {};
  show(ctx.view, ctx.title, heading(ctx), picker,
    h("div", { class: "summary-tiles" },
      tile("Пропущено уроков", total.missed || 0, "total-missed"),
      tile("Из них по болезни", total.illness || 0),
      tile("Без уважительной причины", total.unexcused || 0),
      tile("Опозданий", total.late || 0)),
    subjects.length
      ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Пропуски по предметам" },
        h("table", { class: "table", testid: "attendance-table" },
          h("thead", {}, h("tr", {}, ["Предмет", "Пропущено", "Уважит.", "Неуважит.", "Болезнь", "Опоздания"].map((t) => h("th", { scope: "col" }, t)))),
          h("tbody", {}, subjects.map((s) => row(s.subject_name || "Предмет", s.absences || {}, "attendance-row"))),
          h("tfoot", {}, row("Всего", total, "attendance-total"))))
      : h("p", { class: "empty" }, "Пропусков и опозданий за этот период нет."));
}

function tile(label, value, testid) {
  return h("div", { class: "tile" }, h("span", { class: "tile-value", testid }, String(value)), h("span", { class: "tile-label" }, label));
}

// --- Teachers ---------------------------------------------------------------------------------

async function viewTeachers(ctx) {
  const data = (await api("GET", `${ctx.base}/teachers?date=${today()}`)).data;
  const person = (t) => h("span", { class: "teacher", testid: "teacher" }, h("span", { class: "teacher-name" }, t.name), t.position ? h("span", { class: "muted" }, ` — ${t.position}`) : null);
  const subjects = [...(data.subjects || [])].sort((a, b) => (a.subject_name || "").localeCompare(b.subject_name || "", "ru"));
  show(ctx.view, ctx.title, heading(ctx),
    data.form_teacher ? h("section", { class: "card" }, h("h2", {}, "Классный руководитель"), h("p", {}, person(data.form_teacher))) : null,
    subjects.length
      ? h("section", { class: "card" }, h("h2", {}, "Учителя по предметам"),
        h("dl", { class: "teacher-list" }, subjects.map((s) => [
          h("dt", {}, s.subject_name || "Предмет"),
          h("dd", {}, (s.teachers || []).length ? s.teachers.map((t) => h("div", {}, person(t))) : h("span", { class: "muted" }, "не назначен")),
        ])))
      : h("p", { class: "empty" }, "Учителя пока не назначены."));
}

// --- Rating -----------------------------------------------------------------------------------

async function viewRating(ctx) {
  const { range, picker } = await periodContext(ctx, "rating");
  const data = (await api("GET", `${ctx.base}/rating?${rangeQuery(range)}`)).data;
  const subjects = [...(data.subjects || [])].sort((a, b) => (a.subject_name || "").localeCompare(b.subject_name || "", "ru"));
  show(ctx.view, ctx.title, heading(ctx), picker,
    h("p", { class: "muted" }, "Место в классе по среднему баллу. Имена и отметки других учеников не показываются."),
    subjects.length
      ? h("div", { class: "table-wrap", tabindex: "0", role: "region", "aria-label": "Рейтинг по предметам" },
        h("table", { class: "table", testid: "rating-table" },
          h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Предмет"), h("th", { scope: "col" }, "Средний балл"), h("th", { scope: "col" }, "Место"))),
          h("tbody", {}, subjects.map((s) => h("tr", { testid: "rating-row" },
            h("th", { scope: "row" }, s.subject_name || "Предмет"),
            h("td", {}, h("span", { class: averageClass(s.weighted_average) }, formatDecimal(s.weighted_average))),
            h("td", { testid: "rating-position" }, s.position ? `${s.position} из ${s.ranked}` : h("span", { class: "muted" }, "—")))))))
      : h("p", { class: "empty" }, "За этот период рейтинга нет."));
}

// --- Exams ------------------------------------------------------------------------------------

const EXAM_STATUS = { published: "Опубликован", appealed: "Подана апелляция", revised: "Пересмотрен после апелляции", annulled: "Аннулирован" };

async function viewExams(ctx) {
  const results = (await api("GET", `${ctx.base}/exams`)).data || [];
  const sorted = [...results].sort((a, b) => b.exam_date.localeCompare(a.exam_date));
  show(ctx.view, ctx.title, heading(ctx),
    sorted.length ? h("div", { class: "cards" }, sorted.map((r) => h("section", { class: "card exam", testid: "exam" },
      h("h2", {}, `${r.exam}: ${r.subject_name}`),
      h("p", { class: "muted" }, formatDate(r.exam_date)),
      h("dl", { class: "facts" },
        h("dt", {}, "Первичный балл"), h("dd", {}, `${r.primary_score} из ${r.max_primary_score}`),
        r.test_score != null ? [h("dt", {}, "Тестовый балл"), h("dd", {}, String(r.test_score))] : null,
        r.mark != null ? [h("dt", {}, "Отметка"), h("dd", {}, h("span", { class: markClass(String(r.mark)) }, String(r.mark)))] : null,
        h("dt", {}, "Статус"), h("dd", { testid: "exam-status" }, EXAM_STATUS[r.status] || r.status)))))
      : h("p", { class: "empty" }, "Результатов экзаменов пока нет."));
}

// --- Applications -----------------------------------------------------------------------------

const APPLICATION_STATE = { pending: "На рассмотрении", approved: "Одобрено", rejected: "Отклонено", withdrawn: "Отозвано" };
const RELATION = { parent: "Родитель", guardian: "Законный представитель" };
const AUDIT_ACTION = {
  submitted: "Заявление подано",
  consent_given: "Дано согласие на обработку персональных данных",
  consent_withdrawn: "Согласие на обработку персональных данных отозвано",
  approved: "Заявление одобрено",
  rejected: "Заявление отклонено",
  withdrawn: "Заявление отозвано",
  linked: "Открыт доступ к дневнику",
  unlinked: "Доступ к дневнику закрыт",
};
const ACTOR_ROLE = { parent: "Вы", school_staff: "Школа", operator: "Оператор портала", system: "Система" };

async function schools() {
  if (!state.schools) {
    const data = (await api("GET", "/schools")).data;
    state.schools = Array.isArray(data) ? data : (data && data.items) || [];
  }
  return state.schools;
}

function personName(p) {
  return p ? [p.surname, p.first_name, p.patronymic].filter(Boolean).join(" ") : "данные удалены";
}

function stateBadge(app) {
  return h("span", { class: `state state-${app.state}`, testid: "application-state" }, APPLICATION_STATE[app.state] || app.state);
}

function linkState(app) {
  if (app.linked) return h("p", { class: "link-state link-on", testid: "application-link-state" }, `Доступ к дневнику открыт${app.linked_at ? ` с ${formatMoment(app.linked_at)}` : ""}`);
  if (app.unlinked_at) return h("p", { class: "link-state link-off", testid: "application-link-state" }, `Доступ к дневнику закрыт${app.unlink_reason_text ? `: ${app.unlink_reason_text}` : ""}`);
  if (app.state === "approved") return h("p", { class: "link-state", testid: "application-link-state" }, "Доступ к дневнику открывается…");
  return null;
}

function rejection(app) {
  if (app.state !== "rejected") return null;
  return h("p", { class: "rejection", testid: "rejection-reason" },
    h("strong", {}, "Причина: "), app.rejection_reason_text || app.rejection_reason || "не указана",
    app.rejection_comment ? h("span", { class: "rejection-comment" }, ` — ${app.rejection_comment}`) : null);
}

async function viewApplications(view) {
  const [apps, schoolList] = await Promise.all([
    api("GET", "/applications").then((a) => a.data || []),
    schools().catch((error) => { if (error instanceof SignedOut) throw error; return []; }),
    loadChildren().catch((error) => { if (error instanceof SignedOut) throw error; }),
  ]);
  if (!view.current) return;
  setChrome({ signedIn: true, section: "applications" });
  const schoolName = new Map(schoolList.map((s) => [s.school_id, s.short_name || s.name]));
  const list = (Array.isArray(apps) ? apps : apps.items || []);
  const noChildren = !(state.children || []).length;
  show(view, "Заявления",
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Заявления")),
    noChildren ? h("section", { class: "card call", testid: "no-children" },
      h("h2", {}, "Подключите дневник ребёнка"),
      h("p", {}, "Чтобы видеть отметки, домашние задания и посещаемость, подайте заявление. Школа сверит данные с документами (возьмите паспорт) и откроет доступ.")) : null,
    h("p", {}, h("a", { class: "button button-primary", href: "/applications/new", "data-link": true, testid: "application-new" }, "Подать заявление")),
    list.length ? h("ul", { class: "cards app-list" }, list.map((app) => h("li", { class: "card application", testid: "application", dataset: { applicationId: app.application_id } },
      h("div", { class: "app-head" },
        h("h2", {}, h("a", { href: `/applications/${app.application_id}`, "data-link": true, testid: "application-link" }, app.child ? personName({ surname: app.child.surname, first_name: app.child.first_name }) : "Заявление")),
        stateBadge(app)),
      h("p", { class: "muted" }, [schoolName.get(app.school_id), `подано ${formatMoment(app.submitted_at)}`].filter(Boolean).join(" · ")),
      rejection(app),
      linkState(app))))
      : h("p", { class: "empty" }, "Заявлений пока нет."));
}

async function viewApplication(view, applicationId) {
  const app = (await api("GET", `/applications/${applicationId}`)).data;
  const actions = h("div", { class: "actions" });
  const status = h("div", { class: "alert", role: "alert", hidden: true, testid: "action-error" });

  const confirmAction = (button, question, confirmLabel, testid, path, done) => {
    button.addEventListener("click", () => {
      const panel = h("div", { class: "confirm", role: "group", "aria-label": question },
        h("p", {}, question),
        h("button", { type: "button", class: "button button-danger", testid: `${testid}-confirm`, onclick: async (event) => {
          const yes = event.currentTarget;
          yes.disabled = true;
          try {
            await api("POST", path);
            state.flash = done;
            if (testid === "consent-withdraw") state.children = null;
            render({ focus: true });
          } catch (error) {
            if (error instanceof SignedOut) return;
            status.textContent = errorText(error);
            status.hidden = false;
            yes.disabled = false;
          }
        } }, confirmLabel),
        h("button", { type: "button", class: "button button-quiet", onclick: () => { panel.remove(); button.hidden = false; button.focus(); } }, "Отмена"));
      button.hidden = true;
      button.after(panel);
      panel.querySelector("button").focus();
    });
  };

  if (app.state === "pending") {
    const button = h("button", { type: "button", class: "button", testid: "application-withdraw" }, "Отозвать заявление");
    confirmAction(button, "Отозвать заявление? Школа не будет его рассматривать.", "Да, отозвать", "application-withdraw",
      `/applications/${app.application_id}/withdrawal`, "Заявление отозвано.");
    actions.append(button);
  }
  if (app.consent_given_at && !app.consent_withdrawn_at && (app.state === "pending" || app.state === "approved")) {
    const button = h("button", { type: "button", class: "button button-danger-quiet", testid: "consent-withdraw" }, "Отозвать согласие");
    confirmAction(button, "Отозвать согласие на обработку персональных данных? Доступ к дневнику ребёнка по этому заявлению прекратится.",
      "Да, отозвать согласие", "consent-withdraw", `/applications/${app.application_id}/consent-withdrawal`, "Согласие отозвано.");
    actions.append(button);
  }

  const facts = [
    ["Ребёнок", app.child ? personName(app.child) : "данные удалены"],
    ["Дата рождения", app.child && app.child.birth_date ? formatDate(app.child.birth_date) : null],
    ["Заявитель", personName(app.applicant)],
    ["Кем приходится", RELATION[app.relation] || app.relation],
    ["Школа", app.school_name],
    ["Подано", formatMoment(app.submitted_at)],
    ["Решение", app.decided_at ? formatMoment(app.decided_at) : null],
    ["Согласие", app.consent_withdrawn_at ? `отозвано ${formatMoment(app.consent_withdrawn_at)}`
      : app.consent_given_at ? `дано ${formatMoment(app.consent_given_at)}${app.consent_version ? ` (редакция ${app.consent_version})` : ""}` : null],
  ].filter(([, value]) => value);

  show(view, "Заявление",
    h("p", { class: "back" }, h("a", { href: "/applications", "data-link": true }, "‹ Все заявления")),
    h("section", { class: "card", testid: "application-detail", dataset: { applicationId: app.application_id } },
      h("div", { class: "app-head" }, h("h1", { tabindex: "-1" }, "Заявление"), stateBadge(app)),
      rejection(app),
      linkState(app),
      h("dl", { class: "facts" }, facts.map(([k, v]) => [h("dt", {}, k), h("dd", {}, v)])),
      status,
      actions.childElementCount ? actions : null),
    (app.audit_trail || []).length ? h("section", { class: "card" }, h("h2", {}, "История"),
      h("ol", { class: "timeline", testid: "audit-trail" }, app.audit_trail.map((entry) => h("li", {},
        h("span", { class: "timeline-when" }, formatMoment(entry.at)),
        h("span", { class: "timeline-what" }, AUDIT_ACTION[entry.action] || entry.action),
        h("span", { class: "muted" }, [ACTOR_ROLE[entry.actor_role] || entry.actor_role, entry.actor_name, entry.actor_position].filter(Boolean).join(", ")))))) : null);
}

async function viewApplicationForm(view) {
  const [consent, schoolList] = await Promise.all([api("GET", "/consent-texts/current").then((a) => a.data), schools()]);
  const schoolId = nextId("school");
  const classId = nextId("class");
  const schoolSelect = h("select", { id: schoolId, name: "school_id", required: true, testid: "application-school", "aria-describedby": `${schoolId}-error` },
    h("option", { value: "" }, "Выберите школу"),
    [...schoolList].sort((a, b) => (a.name || "").localeCompare(b.name || "", "ru")).map((s) => h("option", { value: s.school_id },
      s.district_name ? `${s.short_name || s.name} (${s.district_name})` : s.short_name || s.name)));
  const classSelect = h("select", { id: classId, name: "class_id", testid: "application-class", disabled: true, "aria-describedby": `${classId}-error` },
    h("option", { value: "" }, "Не указывать"));
  schoolSelect.addEventListener("change", async () => {
    classSelect.replaceChildren(h("option", { value: "" }, "Не указывать"));
    classSelect.disabled = true;
    if (!schoolSelect.value) return;
    try {
      const data = (await api("GET", `/schools/${encodeURIComponent(schoolSelect.value)}/classes`)).data;
      const classes = Array.isArray(data) ? data : (data && data.items) || [];
      classes.sort((a, b) => (a.grade - b.grade) || a.name.localeCompare(b.name, "ru"));
      classSelect.append(...classes.map((c) => h("option", { value: c.class_id }, c.name)));
      classSelect.disabled = false;
    } catch (error) {
      if (!(error instanceof SignedOut)) classSelect.disabled = false;
    }
  });
  const selectField = (id, label, select, name, optional) => h("div", { class: "field" },
    h("label", { for: id }, label, optional ? h("span", { class: "optional" }, " (необязательно)") : null), select,
    h("p", { class: "field-error", id: `${id}-error`, testid: `error-${name}`, hidden: true }));
  const radio = (value, label, checked) => h("label", { class: "choice" },
    h("input", { type: "radio", name: "relation", value, checked, required: true, testid: `relation-${value}` }), ` ${label}`);
  const consentId = nextId("consent");

  const form = h("form", { class: "form application-form", testid: "application-form", novalidate: true },
    h("fieldset", {}, h("legend", {}, "Ребёнок"),
      field({ label: "Фамилия", name: "child.surname", testid: "child-surname", required: true, autocomplete: "off" }),
      field({ label: "Имя", name: "child.first_name", testid: "child-first-name", required: true, autocomplete: "off" }),
      field({ label: "Отчество", name: "child.patronymic", testid: "child-patronymic", autocomplete: "off" }),
      field({ label: "Дата рождения", name: "child.birth_date", type: "date", testid: "child-birth-date", required: true, attrs: { max: today() } })),
    h("fieldset", {}, h("legend", {}, "Заявитель — вы"),
      h("p", { class: "hint" }, "Как в паспорте: школа сверит данные при визите."),
      field({ label: "Фамилия", name: "applicant.surname", testid: "applicant-surname", required: true, autocomplete: "family-name" }),
      field({ label: "Имя", name: "applicant.first_name", testid: "applicant-first-name", required: true, autocomplete: "given-name" }),
      field({ label: "Отчество", name: "applicant.patronymic", testid: "applicant-patronymic", autocomplete: "additional-name" })),
    h("fieldset", { class: "choices" }, h("legend", {}, "Кем вы приходитесь ребёнку"),
      radio("parent", "Родитель", true), radio("guardian", "Законный представитель (опекун, попечитель)", false),
      h("p", { class: "field-error", testid: "error-relation", hidden: true })),
    h("fieldset", {}, h("legend", {}, "Школа"),
      selectField(schoolId, "Школа", schoolSelect, "school_id", false),
      selectField(classId, "Класс", classSelect, "class_id", true)),
    h("fieldset", { class: "consent" }, h("legend", {}, consent.title),
      h("div", { class: "consent-text", testid: "consent-text", tabindex: "0", role: "region", "aria-label": consent.title }, consent.text),
      h("label", { class: "choice", for: consentId },
        h("input", { type: "checkbox", id: consentId, name: "consent.accepted", testid: "consent-accepted", "aria-describedby": `${consentId}-error` }),
        " Я даю согласие на обработку персональных данных"),
      h("p", { class: "field-error", id: `${consentId}-error`, testid: "error-consent.accepted", hidden: true })),
    formError(),
    h("button", { type: "submit", class: "button button-primary button-wide", testid: "application-submit" }, "Отправить заявление"));

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (!checkRequired(form)) return;
    const value = (name) => form.elements.namedItem(name).value.trim();
    const optional = (name) => value(name) || null;
    const body = {
      child: { surname: value("child.surname"), first_name: value("child.first_name"), patronymic: optional("child.patronymic"), birth_date: value("child.birth_date") },
      applicant: { surname: value("applicant.surname"), first_name: value("applicant.first_name"), patronymic: optional("applicant.patronymic") },
      relation: form.querySelector("[name=relation]:checked").value,
      school_id: schoolSelect.value,
      class_id: classSelect.value || null,
      consent: { version: consent.version, accepted: form.elements.namedItem("consent.accepted").checked },
    };
    await busy(form, async () => {
      try {
        const answer = await api("POST", "/applications", { body });
        state.flash = "Заявление отправлено. Приходите в школу с паспортом — после проверки документов школа откроет доступ к дневнику.";
        navigate(`/applications/${answer.data.application_id}`, { replace: true });
      } catch (error) {
        if (!(error instanceof SignedOut)) showProblem(form, error);
      }
    });
  });

  show(view, "Новое заявление",
    h("p", { class: "back" }, h("a", { href: "/applications", "data-link": true }, "‹ Все заявления")),
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Заявление на подключение к дневнику")),
    h("p", { class: "muted" }, "Одно заявление — один ребёнок. Школа проверит документы и откроет доступ к дневнику."),
    form);
}

// --- Notifications ----------------------------------------------------------------------------

const unread = { timer: null, busy: false, count: null, listeners: new Set() };

/** The menu's badge: the unread count, hidden at zero (filled in by setUnread). */
function unreadBadge() {
  const count = unread.count || 0;
  return [
    h("span", { class: "nav-badge", testid: "unread-badge", "aria-hidden": "true", hidden: !count }, count > 99 ? "99+" : String(count)),
    h("span", { class: "visually-hidden nav-badge-label" }, count ? `, непрочитанных: ${count}` : ""),
  ];
}

function setUnread(count) {
  const n = Math.max(0, Number(count) || 0);
  const changed = unread.count !== n;
  unread.count = n;
  for (const badge of sectionsNav.querySelectorAll("[data-testid=unread-badge]")) {
    badge.textContent = n > 99 ? "99+" : String(n);
    badge.hidden = !n;
  }
  for (const label of sectionsNav.querySelectorAll(".nav-badge-label")) label.textContent = n ? `, непрочитанных: ${n}` : "";
  if (changed) for (const listener of unread.listeners) listener(n);
}

/** Poll the unread count every 30 s while the page is visible (started with the signed-in menu). */
function startUnreadPolling() {
  if (unread.timer) return;
  unread.timer = setInterval(refreshUnread, UNREAD_POLL_MS);
  refreshUnread();
}

function stopUnreadPolling() {
  if (unread.timer) clearInterval(unread.timer);
  unread.timer = null;
  unread.count = null;
  unread.listeners.clear();
}

async function refreshUnread() {
  if (!unread.timer || unread.busy || document.visibilityState !== "visible") return;
  unread.busy = true;
  try {
    const answer = await api("GET", "/notifications/feed/unread-count", { cache: "no-store" });
    if (unread.timer) setUnread(answer.data.unread);
  } catch {
    /* the next tick tries again; a lost session has already shown the login screen */
  } finally {
    unread.busy = false;
  }
}

function childName(pupilId) {
  const child = pupilId && (state.children || []).find((c) => c.pupil_id === pupilId);
  return child ? childLabel(child) : null;
}

/** One feed entry; clicking an unread one marks it read. */
function notificationItem(entry, onRead) {
  const item = h("li", {
    class: `feed-item${entry.read ? "" : " feed-unread"}`,
    testid: "notification",
    dataset: { notificationId: entry.notification_id, read: String(Boolean(entry.read)) },
  });
  const button = h("button", { type: "button", class: "feed-open" },
    h("span", { class: "feed-title" },
      entry.read ? null : h("span", { class: "feed-dot", "aria-hidden": "true" }),
      entry.read ? null : h("span", { class: "visually-hidden feed-new" }, "Новое: "),
      entry.title),
    h("span", { class: "feed-body" }, entry.body),
    h("span", { class: "feed-meta muted" }, [childName(entry.pupil_id), formatMoment(entry.occurred_at)].filter(Boolean).join(" · ")));
  button.addEventListener("click", () => onRead(entry, item));
  item.append(button);
  return item;
}

function markShownRead(item) {
  item.classList.remove("feed-unread");
  item.dataset.read = "true";
  for (const el of item.querySelectorAll(".feed-dot, .feed-new")) el.remove();
}

async function viewNotifications(view) {
  const [first, preferences, kinds] = await Promise.all([
    api("GET", `/notifications/feed?limit=${FEED_PAGE}`, { cache: "no-store" }).then((a) => a.data),
    api("GET", "/notifications/preferences", { cache: "no-store" }).then((a) => a.data),
    api("GET", "/notifications/kinds").then((a) => a.data || []),
  ]);
  if (!view.current) return;
  const shown = new Set();
  const list = h("ul", { class: "feed", testid: "feed", "aria-label": "Уведомления" });
  const empty = h("p", { class: "empty", testid: "feed-empty" }, "Уведомлений пока нет. Здесь появятся новые оценки, пропуски, домашние задания и ответы школы на заявления.");
  const status = h("p", { class: "alert", role: "alert", testid: "feed-error", hidden: true });
  const markAll = h("button", { type: "button", class: "button button-quiet", testid: "mark-all-read" }, "Отметить все прочитанными");
  const more = h("button", { type: "button", class: "button button-wide", testid: "feed-more" }, "Показать ещё");
  let nextBefore = first.next_before;
  let known = first.unread; // the unread count the list has caught up with

  const failed = (error) => {
    if (error instanceof SignedOut) return;
    status.textContent = errorText(error);
    status.hidden = false;
  };
  const syncControls = () => {
    empty.hidden = list.childElementCount > 0;
    list.hidden = !empty.hidden;
    more.hidden = !nextBefore;
    markAll.disabled = !list.querySelector(".feed-unread");
  };
  const onRead = async (entry, item) => {
    if (item.dataset.read === "true" || item.dataset.pending) return;
    item.dataset.pending = "true";
    try {
      await api("POST", `/notifications/feed/${encodeURIComponent(entry.notification_id)}/read`);
      markShownRead(item);
      known = Math.max(0, (unread.count || 1) - 1);
      setUnread(known);
      status.hidden = true;
    } catch (error) {
      failed(error);
    } finally {
      delete item.dataset.pending;
      syncControls();
    }
  };
  const add = (entries, { atTop = false } = {}) => {
    const fresh = entries.filter((e) => !shown.has(e.notification_id));
    for (const e of fresh) shown.add(e.notification_id);
    const items = fresh.map((e) => notificationItem(e, onRead));
    if (atTop) list.prepend(...items);
    else list.append(...items);
    syncControls();
  };

  markAll.addEventListener("click", async () => {
    markAll.disabled = true;
    try {
      const answer = await api("POST", "/notifications/feed/read");
      for (const item of list.querySelectorAll(".feed-unread")) markShownRead(item);
      known = 0;
      setUnread(answer.data ? answer.data.unread : 0);
      status.hidden = true;
    } catch (error) {
      failed(error);
    }
    syncControls();
  });
  more.addEventListener("click", async () => {
    more.disabled = true;
    try {
      const page = (await api("GET", `/notifications/feed?limit=${FEED_PAGE}&before=${encodeURIComponent(nextBefore)}`, { cache: "no-store" })).data;
      nextBefore = page.next_before;
      add(page.items || []);
      status.hidden = true;
    } catch (error) {
      failed(error);
    } finally {
      more.disabled = false;
      syncControls();
    }
  });
  // A count that goes up while the feed is open brings the new entries in at the top.
  const listener = async (count) => {
    if (!view.current) {
      unread.listeners.delete(listener);
      return;
    }
    const rising = count > known;
    known = count;
    if (!rising) return;
    try {
      const page = (await api("GET", `/notifications/feed?limit=${FEED_PAGE}`, { cache: "no-store" })).data;
      if (view.current) add(page.items || [], { atTop: true });
    } catch {
      /* the next count tries again */
    }
  };
  unread.listeners.clear();
  unread.listeners.add(listener);

  add(first.items || []);
  setUnread(first.unread);
  const shownNow = show(view, "Уведомления",
    h("div", { class: "view-head" }, h("h1", { tabindex: "-1" }, "Уведомления")),
    h("div", { class: "notifications-layout" },
      h("section", { class: "feed-section", "aria-labelledby": "feed-title" },
        h("div", { class: "feed-head" }, h("h2", { id: "feed-title" }, "Лента"), markAll),
        status, list, empty, more),
      preferencesForm(preferences, kinds)));
  if (!shownNow) unread.listeners.delete(listener);
}

const MODE_CHOICES = [
  ["instant", "Сразу", "Письмо о каждом событии (в тихие часы письма ждут до утра)."],
  ["digest", "Раз в день", "Одно письмо со всеми событиями за день."],
];

/** The preferences form: kinds, channels, e-mail mode, quiet hours, digest time. */
function preferencesForm(preferences, kinds) {
  const choice = (type, name, value, label, checked, testid, hint) => h("label", { class: "choice" },
    h("input", { type, name, value, checked, testid }),
    h("span", {}, label, hint ? h("span", { class: "choice-hint" }, hint) : null));
  const errorSlot = (name) => h("p", { class: "field-error", testid: `error-${name}`, hidden: true });
  const wanted = new Set(preferences.kinds || []);
  const digestField = field({ label: "Когда присылать письмо за день", name: "digest_at", type: "time", testid: "pref-digest-at", required: true,
    value: formatTime(preferences.digest_at), hint: "По московскому времени." });
  const form = h("form", { class: "form preferences-form", testid: "preferences-form", novalidate: true, "aria-labelledby": "preferences-title" },
    h("h2", { id: "preferences-title" }, "Настройки уведомлений"),
    h("fieldset", { class: "choices" }, h("legend", {}, "О чём сообщать"),
      kinds.map((k) => choice("checkbox", "kinds", k.kind, k.title, wanted.has(k.kind), `pref-kind-${k.kind}`)),
      errorSlot("kinds")),
    h("fieldset", { class: "choices" }, h("legend", {}, "Куда"),
      choice("checkbox", "feed", "on", "В ленту дневника", preferences.feed, "pref-feed", "Этот раздел; уведомления появляются сразу."),
      errorSlot("feed"),
      choice("checkbox", "email", "on", "На электронную почту", preferences.email, "pref-email", state.me && state.me.email ? state.me.email : null),
      errorSlot("email")),
    h("fieldset", { class: "choices" }, h("legend", {}, "Письма"),
      MODE_CHOICES.map(([value, label, hint]) => choice("radio", "mode", value, label, preferences.mode === value, `pref-mode-${value}`, hint)),
      errorSlot("mode"),
      digestField),
    h("fieldset", {}, h("legend", {}, "Тихие часы"),
      h("p", { class: "hint" }, "По московскому времени. В эти часы письма не приходят, они придут после. Оставьте оба поля пустыми, чтобы письма приходили в любое время."),
      h("div", { class: "time-pair" },
        field({ label: "С", name: "quiet_from", type: "time", testid: "pref-quiet-from", value: formatTime(preferences.quiet_from) }),
        field({ label: "До", name: "quiet_to", type: "time", testid: "pref-quiet-to", value: formatTime(preferences.quiet_to) }))),
    formError(),
    h("p", { class: "notice", role: "status", testid: "preferences-saved", hidden: true }, "Настройки сохранены."),
    h("button", { type: "submit", class: "button button-primary button-wide", testid: "preferences-save" }, "Сохранить настройки"));
  for (const label of form.querySelectorAll(".time-pair .optional")) label.remove(); // the hint above says so
  const saved = form.querySelector("[data-testid=preferences-saved]");
  const digestAt = form.elements.namedItem("digest_at");
  const syncMode = () => {
    digestField.hidden = form.querySelector("[name=mode]:checked")?.value !== "digest";
  };
  syncMode();
  for (const radio of form.querySelectorAll("[name=mode]")) radio.addEventListener("change", syncMode);
  form.addEventListener("input", () => { saved.hidden = true; });

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    saved.hidden = true;
    if (digestField.hidden && !digestAt.value) digestAt.value = formatTime(preferences.digest_at) || "19:00";
    if (!checkRequired(form)) return;
    const time = (name) => form.elements.namedItem(name).value || null;
    const body = {
      kinds: [...form.querySelectorAll("[name=kinds]:checked")].map((el) => el.value),
      email: form.elements.namedItem("email").checked,
      feed: form.elements.namedItem("feed").checked,
      mode: form.querySelector("[name=mode]:checked")?.value || "instant",
      quiet_from: time("quiet_from"),
      quiet_to: time("quiet_to"),
      digest_at: time("digest_at"),
    };
    await busy(form, async () => {
      try {
        const answer = (await api("PUT", "/notifications/preferences", { body })).data;
        preferences = answer;
        form.elements.namedItem("quiet_from").value = formatTime(answer.quiet_from);
        form.elements.namedItem("quiet_to").value = formatTime(answer.quiet_to);
        digestAt.value = formatTime(answer.digest_at);
        saved.hidden = false;
      } catch (error) {
        if (!(error instanceof SignedOut)) showProblem(form, error);
      }
    });
  });
  return form;
}

// --- Start ------------------------------------------------------------------------------------

render();
