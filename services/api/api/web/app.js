// SwipeFlix swipe deck: deals cards from POST /v1/deck, sends each swipe to
// ingest as a swipe event, and shows /predict's top 10 as it learns.
// No framework, no network access beyond the api and ingest.
"use strict";

(() => {
  const STORE_KEY = "swipeflix.user";
  const TOKEN_KEY = "swipeflix.ingestToken";
  const KEEP = 5;          // cards kept in hand; below this the deck refills
  const REFILL = 8;        // cards in hand after a refill
  const POLL_MS = 40;      // /predict polling while waiting for a swipe to land
  const WAIT_MS = 3000;    // give up waiting for a changed answer after this
  const SWIPES = { ArrowRight: "like", ArrowLeft: "dislike", ArrowUp: "superlike", ArrowDown: "skip" };
  const GONE = { like: "gone-right", dislike: "gone-left", superlike: "gone-up", skip: "gone-down" };
  const STAMP = { like: ["LIKE", "var(--like)"], dislike: ["NOPE", "var(--dislike)"], superlike: ["SUPER", "var(--super)"], skip: ["SKIP", "var(--skip)"] };

  const $ = (id) => document.getElementById(id);
  const el = (tag, props = {}, ...kids) => {
    const n = document.createElement(tag);
    Object.assign(n, props);
    for (const k of kids) if (k != null) n.append(k);
    return n;
  };

  // state is also exposed read-only as window.swipeflix for the browser tests.
  const state = {
    user: "", ingestURL: "", hand: [], shown: [], dealt: [], sent: [], history: [],
    picks: [], firstPicks: null, modelVersion: "", lastLatencyMs: null, latencies: [],
    refilling: null, exhausted: false, gen: 0, lastTs: 0, details: new Map(),
  };
  window.swipeflix = state;

  function status(msg, isError) {
    const s = $("status");
    s.textContent = msg || "";
    s.classList.toggle("error", !!isError);
  }

  function randomHex(bytes) {
    const a = new Uint8Array(bytes);
    crypto.getRandomValues(a);
    return Array.from(a, (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function call(url, opts = {}) {
    const headers = {};
    if (opts.body) headers["Content-Type"] = "application/json";
    if (opts.token) headers.Authorization = "Bearer " + opts.token;
    const res = await fetch(url, { method: opts.method, body: opts.body, headers });
    let body = null;
    try { body = await res.json(); } catch (_) { /* not JSON */ }
    if (!res.ok) {
      const why = body && body.error ? body.error : res.status + " " + res.statusText;
      const err = new Error(why);
      err.status = res.status;
      throw err;
    }
    return body;
  }
  const post = (url, obj, token) => call(url, { method: "POST", body: JSON.stringify(obj), token });
  const storedToken = () => { try { return localStorage.getItem(TOKEN_KEY) || ""; } catch (_) { return ""; } };

  // ---- profile -------------------------------------------------------

  function pickUser() {
    const q = new URLSearchParams(location.search).get("user");
    let u = (q || "").trim();
    if (!u) { try { u = (localStorage.getItem(STORE_KEY) || "").trim(); } catch (_) { /* storage off */ } }
    if (!u) u = "guest-" + randomHex(4);
    return u;
  }

  function setUser(u) {
    u = u.trim().slice(0, 100);
    if (!u) return;
    try { localStorage.setItem(STORE_KEY, u); } catch (_) { /* storage off */ }
    const url = new URL(location.href);
    if (url.searchParams.get("user") !== u) {
      url.searchParams.set("user", u);
      history.replaceState(null, "", url);
    }
    Object.assign(state, { user: u, hand: [], history: [], picks: [], firstPicks: null, exhausted: false, lastLatencyMs: null });
    state.gen++;
    $("user").value = u;
    $("latency").textContent = "swipe to see the model learn";
    renderDeck();
    renderPicks(false);
    refill();
    refreshPicks(null);
  }

  // ---- cards ---------------------------------------------------------

  function displayTitle(t) {
    let title = (t || "").replace(/\s*\(\d{4}\)\s*$/, "");
    const m = title.match(/^(.*), (The|A|An|La|Le|Les|Il|Das|Der|Die|El)$/);
    if (m) title = m[2] + " " + m[1];
    return title;
  }
  // prettyReason shows the movie in "because you liked X" as the cards do.
  function prettyReason(r) {
    return (r || "").replace(/^(because you liked )(.*)$/, (_, lead, t) => lead + displayTitle(t));
  }
  function initials(title) {
    const words = displayTitle(title).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
    const skip = new Set(["the", "a", "an", "of", "and", "la", "le", "les", "el"]);
    const sig = words.filter((w) => !skip.has(w.toLowerCase()));
    const use = (sig.length ? sig : words).slice(0, 2);
    return use.map((w) => Array.from(w)[0].toUpperCase()).join("") || "?";
  }
  function hue(s) {
    let h = 2166136261;
    for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 16777619); }
    return Math.abs(h) % 360;
  }
  function chips(list, cls) {
    const ul = el("ul", { className: "chips" + (cls ? " " + cls : "") });
    for (const g of list) ul.append(el("li", { textContent: g }));
    return ul;
  }

  function cardNode(c, pos) {
    const node = el("article", { className: "card " + (pos === 0 ? "top" : pos === 1 ? "behind" : "behind2") });
    node.dataset.movieId = c.movie_id;
    const h = hue(c.title || c.movie_id);
    const poster = el("div", { className: "poster" }, initials(c.title));
    poster.style.background = `linear-gradient(135deg, hsl(${h} 55% 42%), hsl(${(h + 40) % 360} 60% 28%))`;
    poster.setAttribute("aria-hidden", "true");
    if (c.explore) poster.append(el("span", { className: "badge", textContent: "explore" }));
    poster.append(el("span", { className: "stamp" }));
    const body = el("div", { className: "body" },
      el("h3", { textContent: displayTitle(c.title) }),
      el("div", { className: "meta", textContent: [c.year || "", c.explore ? "something new" : ""].filter(Boolean).join(" · ") }),
      chips(c.genres || []),
      el("div", { className: "reason", textContent: prettyReason(c.reason) }));
    node.append(poster, body);
    if (pos === 0) {
      node.setAttribute("aria-label", `${displayTitle(c.title)}${c.year ? ", " + c.year : ""}. ${(c.genres || []).join(", ")}. ${prettyReason(c.reason)}`);
      addDetails(c, body);
      addDrag(node);
    } else {
      node.setAttribute("aria-hidden", "true");
    }
    return node;
  }

  // Tags and overview come from GET /v1/movies/{id}, for the top card.
  async function addDetails(c, body) {
    let d = state.details.get(c.movie_id);
    if (!d) {
      try {
        d = (await call("/v1/movies/" + encodeURIComponent(c.movie_id))).movie || {};
      } catch (_) { d = {}; }
      state.details.set(c.movie_id, d);
    }
    if (!body.isConnected) return;
    if (d.tags && d.tags.length) body.append(chips(d.tags.slice(0, 6), "tags"));
    if (d.overview) body.append(el("p", { className: "overview", textContent: d.overview }));
  }

  function renderDeck() {
    const deck = $("deck");
    deck.replaceChildren(...state.hand.slice(0, 3).map((c, i) => cardNode(c, i)).reverse());
    deck.classList.toggle("done", state.exhausted && state.hand.length === 0);
    const top = state.hand[0];
    if (top && state.shown[state.shown.length - 1] !== top.movie_id) state.shown.push(top.movie_id);
    const off = !top;
    for (const id of ["btn-like", "btn-dislike", "btn-superlike", "btn-skip"]) $(id).disabled = off;
    $("btn-undo").disabled = state.history.length === 0;
  }

  // ---- dealing -------------------------------------------------------

  async function refill() {
    const gen = state.gen;
    if (state.refilling === gen || state.exhausted || state.hand.length >= KEEP) return;
    state.refilling = gen;
    try {
      const d = await post("/v1/deck", { user_id: state.user, size: REFILL - state.hand.length });
      if (gen !== state.gen) return;
      const have = new Set(state.hand.map((c) => c.movie_id));
      state.dealt.push(...d.cards.map((c) => c.movie_id));
      const fresh = d.cards.filter((c) => !have.has(c.movie_id));
      if (d.cards.length === 0) state.exhausted = true;
      const wasEmpty = state.hand.length === 0;
      state.hand.push(...fresh);
      if (wasEmpty || state.hand.length <= 3) renderDeck();
      else renderBehind();
      status("");
    } catch (e) {
      status("Could not deal cards: " + e.message, true);
    } finally {
      if (state.refilling === gen) state.refilling = null;
    }
  }

  // renderBehind refreshes the cards under the top one without touching it
  // (a drag may be in progress).
  function renderBehind() {
    const deck = $("deck");
    const top = deck.querySelector(".card.top");
    if (!top) { renderDeck(); return; }
    for (const n of deck.querySelectorAll(".card.behind, .card.behind2")) n.remove();
    const under = state.hand.slice(1, 3).map((c, i) => cardNode(c, i + 1)).reverse();
    deck.prepend(...under);
  }

  // ---- swiping -------------------------------------------------------

  function nextTs() {
    // Strictly increasing event times: an undo and a re-swipe must each be
    // newer than what they replace (the trainer keeps the latest by time).
    const t = Math.max(Date.now(), state.lastTs + 1);
    state.lastTs = t;
    return new Date(t).toISOString();
  }

  async function sendEvent(movieId, swipe, note) {
    const ev = { event_id: "web-" + randomHex(12), user_id: state.user, movie_id: movieId, swipe, ts: nextTs(), source: "swipeflix-web" };
    const rec = { ...ev, note: note || "", status: "sending" };
    state.sent.push(rec);
    if (!state.ingestURL) { rec.status = "failed"; status("No ingest address configured: swipes cannot be sent.", true); return false; }
    try {
      await post(state.ingestURL.replace(/\/$/, "") + "/v1/swipes", ev, storedToken());
      rec.status = "accepted";
      return true;
    } catch (e) {
      rec.status = "failed";
      if (e.status === 401) {
        $("token-form").hidden = false;
        status("Ingest asks for a token: enter it beside the profile, then swipe again (undo brings the card back).", true);
      } else {
        status("Swipe not sent: " + e.message, true);
      }
      return false;
    }
  }

  let animating = false;
  function swipe(kind) {
    const card = state.hand[0];
    if (!card || animating) return;
    const node = $("deck").querySelector(".card.top");
    state.hand.shift();
    const t0 = performance.now();
    const before = picksKey();
    const sending = sendEvent(card.movie_id, kind);
    state.history.push({ card, kind, sending });
    announce(`${STAMP[kind][0].toLowerCase()}: ${displayTitle(card.title)}`);
    const finish = () => { animating = false; renderDeck(); focusDeck(); };
    if (node && !matchMedia("(prefers-reduced-motion: reduce)").matches) {
      animating = true;
      node.classList.remove("dragging");
      node.style.transform = "";
      node.classList.add(GONE[kind]);
      setTimeout(finish, 180);
    } else {
      finish();
    }
    afterSwipe(sending, t0, before);
  }

  async function undo() {
    const last = state.history.pop();
    if (!last) return;
    // The compensating event: a newer neutral event (skip) for the same
    // movie, then the card comes back on top; re-swiping it sends a newer
    // event still, which wins by event time.
    state.hand.unshift(last.card);
    renderDeck();
    focusDeck();
    announce("undone: " + displayTitle(last.card.title) + " is back on top");
    // A swipe that never reached ingest needs no compensating event.
    if (!(await last.sending)) return;
    const t0 = performance.now();
    const before = picksKey();
    afterSwipe(sendEvent(last.card.movie_id, "skip", "undo"), t0, before);
  }

  function announce(msg) { status(msg); }
  function focusDeck() {
    const a = document.activeElement;
    if (!a || a === document.body || a.closest(".card")) $("deck").focus?.();
  }

  // ---- top picks -----------------------------------------------------

  function picksKey() { return JSON.stringify(state.picks.map((p) => [p.movie_id, p.score])) + "|" + state.modelVersion; }

  async function fetchPicks() {
    const a = await post("/predict", { user_id: state.user, top_k: 10 });
    return a;
  }

  function applyPicks(a, reasons) {
    const old = new Set(state.picks.map((p) => p.movie_id));
    state.picks = a.recommendations;
    state.modelVersion = a.model_version;
    state.coldStart = a.cold_start;
    if (!state.firstPicks) state.firstPicks = a.recommendations.map((p) => p.movie_id);
    state.reasons = reasons || {};
    $("model-version").textContent = a.model_version;
    $("picks-note").textContent = a.cold_start ? "Popular picks: swipe a few cards to make them yours." : "";
    renderPicks(true, old);
  }

  function renderPicks(show, old) {
    const ol = $("picks");
    if (!show) { ol.replaceChildren(); return; }
    ol.replaceChildren(...state.picks.map((p) => {
      const li = el("li", {}, el("span", { textContent: displayTitle(p.title) }));
      li.dataset.movieId = p.movie_id;
      const why = state.reasons && state.reasons[p.movie_id];
      if (why) li.append(el("span", { className: "why", textContent: prettyReason(why) }));
      if (old && old.size && !old.has(p.movie_id)) li.classList.add("fresh");
      return li;
    }));
  }

  async function refreshPicks(_) {
    const gen = state.gen;
    try {
      const a = await fetchPicks();
      if (gen !== state.gen) return;
      const reasons = a.cold_start ? {} : await explain(a);
      if (gen !== state.gen) return;
      applyPicks(a, reasons);
    } catch (e) {
      status("Could not load your top picks: " + e.message, true);
    }
  }

  async function explain(a) {
    try {
      const r = await post("/v1/explain", { user_id: state.user, movie_ids: a.recommendations.map((p) => p.movie_id) });
      return r.reasons || {};
    } catch (_) {
      return {};
    }
  }

  // afterSwipe waits for the swipe to reach ingest, then polls /predict
  // until its answer changes (the trainer folded the swipe in and the api
  // applied the delta), shows the time that took, and refills the deck.
  // A newer swipe supersedes an older one's wait.
  let swipeSeq = 0;
  async function afterSwipe(sending, t0, before) {
    const seq = ++swipeSeq;
    const gen = state.gen;
    if (state.hand.length === 0) refill();
    const ok = await sending;
    if (seq !== swipeSeq || gen !== state.gen) return;
    let changed = null;
    if (ok) {
      const deadline = t0 + WAIT_MS;
      while (performance.now() < deadline) {
        let a;
        try { a = await fetchPicks(); } catch (_) { break; }
        if (seq !== swipeSeq || gen !== state.gen) return;
        const key = JSON.stringify(a.recommendations.map((p) => [p.movie_id, p.score])) + "|" + a.model_version;
        if (key !== before) { changed = a; break; }
        await new Promise((r) => setTimeout(r, POLL_MS));
      }
    }
    const took = performance.now() - t0;
    if (changed) {
      state.lastLatencyMs = Math.round(took);
      state.latencies.push(state.lastLatencyMs);
      $("latency").textContent = `last swipe → new answer in ${state.lastLatencyMs} ms`;
      const reasons = changed.cold_start ? {} : await explain(changed);
      if (seq === swipeSeq && gen === state.gen) applyPicks(changed, reasons);
    } else if (ok) {
      $("latency").textContent = `no change within ${WAIT_MS / 1000} s of the last swipe`;
    }
    refill();
  }

  // ---- input ---------------------------------------------------------

  function addDrag(node) {
    let sx = 0, sy = 0, dx = 0, dy = 0, id = null;
    const stamp = node.querySelector(".stamp");
    const which = () => {
      if (Math.abs(dx) > Math.abs(dy)) return dx > 0 ? "like" : "dislike";
      return dy < 0 ? "superlike" : "skip";
    };
    node.addEventListener("pointerdown", (e) => {
      if (animating || e.button > 0) return;
      id = e.pointerId; sx = e.clientX; sy = e.clientY; dx = dy = 0;
      node.setPointerCapture(id);
      node.classList.add("dragging");
    });
    node.addEventListener("pointermove", (e) => {
      if (e.pointerId !== id) return;
      dx = e.clientX - sx; dy = e.clientY - sy;
      node.style.transform = `translate(${dx}px, ${dy}px) rotate(${dx / 18}deg)`;
      const far = Math.max(Math.abs(dx), Math.abs(dy));
      const [label, color] = STAMP[which()];
      stamp.textContent = label;
      stamp.style.color = stamp.style.borderColor = color;
      stamp.style.opacity = Math.min(1, far / 100);
    });
    const end = (e) => {
      if (e.pointerId !== id) return;
      id = null;
      const far = Math.max(Math.abs(dx), Math.abs(dy));
      if (far > 90) { swipe(which()); return; }
      node.classList.remove("dragging");
      node.style.transform = "";
      stamp.style.opacity = 0;
    };
    node.addEventListener("pointerup", end);
    node.addEventListener("pointercancel", end);
  }

  document.addEventListener("keydown", (e) => {
    const t = e.target;
    if (t && (t.tagName === "INPUT" || t.tagName === "TEXTAREA" || t.isContentEditable)) return;
    if (e.altKey || e.ctrlKey || e.metaKey) return;
    if (SWIPES[e.key]) { e.preventDefault(); swipe(SWIPES[e.key]); return; }
    if (e.key === "u" || e.key === "U" || e.key === "Backspace") { e.preventDefault(); undo(); }
  });
  for (const [id, kind] of [["btn-like", "like"], ["btn-dislike", "dislike"], ["btn-superlike", "superlike"], ["btn-skip", "skip"]]) {
    $(id).addEventListener("click", () => swipe(kind));
  }
  $("btn-undo").addEventListener("click", undo);
  $("profile").addEventListener("submit", (e) => { e.preventDefault(); setUser($("user").value); });
  $("new-profile").addEventListener("click", () => setUser("guest-" + randomHex(4)));
  $("token-form").addEventListener("submit", (e) => {
    e.preventDefault();
    try { localStorage.setItem(TOKEN_KEY, $("token").value.trim()); } catch (_) { /* storage off */ }
    $("token").value = "";
    status("Token saved in this browser.");
  });
  if (storedToken()) $("token-form").hidden = false;
  $("deck").tabIndex = -1;

  // ---- start ---------------------------------------------------------

  (async () => {
    try {
      const cfg = await call("/v1/config");
      state.ingestURL = cfg.ingest_url || "";
    } catch (e) {
      status("Could not read the page's configuration: " + e.message, true);
    }
    setUser(pickUser());
  })();
})();
