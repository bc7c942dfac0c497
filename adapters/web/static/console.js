// Breachroom's local console: the page asks the server for what it may show, and listens for changes.
// Every HTML fragment it inserts was built and escaped by the server (adapters/web/render.py).
"use strict";

const view = { room: new URLSearchParams(location.search).get("room") || "general", me: null };
const $ = (id) => document.getElementById(id);
let pending = null;
let asked = 0;  // refreshes started
let shown = 0;  // the refresh whose answer is on screen

function freshId() {
  return (crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random().toString(16).slice(2));
}

async function post(path, body) {
  const response = await fetch(path, {
    method: "POST", credentials: "same-origin",
    headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  let data = {};
  try { data = await response.json(); } catch (_) { data = {}; }
  return { status: response.status, data };
}

function say(text) { $("notice").textContent = text || ""; }

async function refresh() {
  const mine = ++asked;
  const room = view.room;
  const response = await fetch("/console/state?room=" + encodeURIComponent(room), { credentials: "same-origin" });
  if (!response.ok) { say("Breachroom is not answering. Check that it is still running."); return; }
  const state = await response.json();
  // Answers may arrive out of order: never draw one older than what is shown, nor one for a room left since
  // (a newer refresh for the room chosen is on its way), or it would take the person back to that room.
  if (mine < shown || room !== view.room) return;
  shown = mine;
  view.me = state.me;
  view.room = state.room;
  $("who").hidden = Boolean(view.me);
  $("me").textContent = view.me ? view.me.name : "";
  drawRooms(state);
  drawMessages(state);
}

function later() {
  if (pending) return;
  pending = setTimeout(() => { pending = null; refresh(); }, 80);
}

function drawRooms(state) {
  const nav = $("rooms");
  nav.replaceChildren();
  for (const room of state.rooms) {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.room = room.id;
    if (room.id === state.room) button.classList.add("current");
    button.append((room.private ? "🔒 " : "# ") + room.name);
    for (const [flag, label] of [["drill", "DRILL"], ["closed", "closed"]]) {
      if (room[flag]) {
        const tag = document.createElement("span");
        tag.className = "tag " + flag;
        tag.textContent = label;
        button.append(tag);
      }
    }
    if (room.summary) {
      const summary = document.createElement("span");
      summary.className = "summary";
      summary.textContent = room.summary;
      button.append(summary);
    }
    nav.append(button);
  }
  const current = state.rooms.find((r) => r.id === state.room);
  $("room-name").textContent = current ? (current.private ? "🔒 " : "# ") + current.name : "general";
  $("room-topic").textContent = current && current.topic ? current.topic : "";
}

function drawMessages(state) {
  const box = $("messages");
  const atBottom = box.scrollHeight - box.scrollTop - box.clientHeight < 40;
  box.replaceChildren();
  for (const message of state.messages) {
    const item = document.createElement("div");
    item.className = "message" + (message.private ? " private" : "") + (message.pinned ? " pinned" : "");
    item.dataset.message = message.id;
    item.innerHTML = message.html;  // built and escaped by the server
    box.append(item);
  }
  if (atBottom || box.dataset.room !== state.room) box.scrollTop = box.scrollHeight;
  box.dataset.room = state.room;
}

function openForm(html) {
  const dialog = $("dialog");
  dialog.innerHTML = html;  // built and escaped by the server
  const form = dialog.querySelector("form");
  form.dataset.id = freshId();
  form.addEventListener("submit", submitForm);
  form.querySelector(".cancel").addEventListener("click", () => dialog.close());
  dialog.showModal();
}

async function submitForm(event) {
  event.preventDefault();
  const form = event.target;
  const body = { room: view.room, __id: form.dataset.id };
  for (const element of form.elements) {
    if (!element.name) continue;
    if (element.multiple) {
      body[element.name] = Array.from(element.selectedOptions).map((o) => o.value);
    } else {
      body[element.name] = element.value;
    }
  }
  form.querySelectorAll(".error").forEach((e) => { e.textContent = ""; });
  const submit = form.querySelector("button[type=submit]");
  submit.disabled = true;
  const { status, data } = await post("/console/submit", body);
  submit.disabled = false;
  if (status === 200) {
    $("dialog").close();
    if (data.form) openForm(data.form);
    later();
    return;
  }
  const errors = data.errors || { __form: "Breachroom could not save this. Press the button again in a moment." };
  for (const [field, message] of Object.entries(errors)) {
    const slot = form.querySelector(`[data-error-for="${CSS.escape(field)}"]`) ||
                 form.querySelector('[data-error-for="__form"]');
    slot.textContent = message;
  }
}

async function answered({ status, data }) {
  if (status === 403) { say(data.error || ""); $("who").hidden = false; return false; }
  if (status !== 200) { say("Breachroom could not do this just now. Try again in a moment."); return false; }
  say("");
  if (data.form) openForm(data.form);
  later();
  return true;
}

$("who-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const { status, data } = await post("/console/name", { name: event.target.elements.name.value });
  $("who-error").textContent = status === 200 ? "" : (data.error || "");
  if (status === 200) refresh();
});

$("composer").addEventListener("submit", async (event) => {
  event.preventDefault();
  const field = event.target.elements.text;
  const text = field.value;
  if (!text.trim()) return;
  const ok = await answered(await post("/console/say", { room: view.room, text, __id: freshId() }));
  if (ok) field.value = "";  // kept when it was not taken, so nothing typed is lost
});

$("composer").elements.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    $("composer").requestSubmit();
  }
});

$("messages").addEventListener("click", async (event) => {
  const link = event.target.closest("a.room-link");
  if (link) { event.preventDefault(); view.room = link.dataset.room; refresh(); return; }
  const button = event.target.closest("button.action");
  if (!button) return;
  button.disabled = true;
  await answered(await post("/console/press", {
    room: view.room, action: button.dataset.action, value: button.dataset.value,
    message: button.closest(".message").dataset.message,
  }));
  button.disabled = false;
});

$("rooms").addEventListener("click", (event) => {
  const button = event.target.closest("button[data-room]");
  if (!button) return;
  view.room = button.dataset.room;
  $("rooms").classList.remove("open");
  refresh();
});

$("menu").addEventListener("click", () => $("rooms").classList.toggle("open"));

const events = new EventSource("/console/events");
events.onmessage = (event) => {
  const change = JSON.parse(event.data);
  if (change.kind === "room" && view.me && change.opened_by === view.me.id) view.room = change.room;
  later();
};
events.onopen = () => later();

refresh();
