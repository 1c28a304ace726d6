// The conversation as shown: one list entry per item (user or assistant), its text as it
// streams in, pending/final/interrupted marks, and which words of an interrupted reply were
// not played. Each entry also carries the per-item counts the rest of the page needs.

export class Transcript {
  constructor(list, hint) {
    this.list = list;
    this.hint = hint;
    // item id → {role, li, textEl, metaEl, text, received, responseId, truncated}
    this.items = new Map();
  }

  get(itemId) { return this.items.get(itemId); }

  /** The user's entry for an item, created ("…") on first sight. */
  user(itemId) {
    const it = this.items.get(itemId);
    if (it) return it;
    const created = this.add("user", itemId);
    created.textEl.textContent = "…";
    return created;
  }

  /** The assistant's entry for an item of a response, created on first sight. */
  assistant(itemId, responseId) {
    let it = this.items.get(itemId);
    if (!it) {
      it = this.add("assistant", itemId);
      it.responseId = responseId;
    }
    return it;
  }

  /** The assistant's entry of a response, if any. */
  assistantOf(responseId) {
    for (const it of this.items.values()) if (it.responseId === responseId && it.role === "assistant") return it;
    return undefined;
  }

  remove(itemId) {
    const it = this.items.get(itemId);
    if (!it) return;
    it.li.remove();
    this.items.delete(itemId);
  }

  setText(it, text) {
    it.text = text;
    it.textEl.textContent = text;
  }

  appendText(it, delta) { this.setText(it, it.text + delta); }

  /** The item is complete (its text will not change any more). */
  finish(it) {
    it.li.classList.remove("pending");
    it.li.dataset.final = "true";
  }

  markInterrupted(it) { it.li.classList.add("interrupted"); }

  /**
   * The server keeps the words that were played (whole sentences plus a proportional prefix of
   * the one cut off): show those normally and strike out the rest.
   */
  showHeard(it, heard) {
    const words = it.text.trim().split(/\s+/).filter(Boolean);
    const kept = heard.trim() ? heard.trim().split(/\s+/).length : 0;
    it.textEl.replaceChildren();
    if (kept < words.length) {
      const rest = document.createElement("span");
      rest.className = "unheard";
      rest.title = "Not played: you interrupted";
      const restText = words.slice(kept).join(" ");
      rest.textContent = kept ? ` ${restText}` : restText;
      const sr = document.createElement("span");
      sr.className = "visually-hidden";
      sr.textContent = " (not played)";
      it.textEl.append(document.createTextNode(words.slice(0, kept).join(" ")), rest, sr);
    } else {
      it.textEl.textContent = it.text;
    }
    this.markInterrupted(it);
  }

  add(role, itemId) {
    this.hint.hidden = true;
    const li = document.createElement("li");
    li.className = `msg ${role} pending`;
    li.dataset.itemId = itemId;
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = role === "user" ? "You" : "Assistant";
    const sr = document.createElement("span");
    sr.className = "visually-hidden";
    sr.textContent = role === "user" ? " said: " : " says: ";
    const text = document.createElement("p");
    text.className = "text";
    const meta = document.createElement("p");
    meta.className = "meta";
    li.append(who, sr, text, meta);
    this.list.append(li);
    li.scrollIntoView({ block: "end", behavior: "smooth" });
    const item = { role, li, textEl: text, metaEl: meta, text: "", received: 0, responseId: null, truncated: false };
    this.items.set(itemId, item);
    return item;
  }
}
