// Copy buttons: <button data-copy="ID"> copies the text of element ID.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.dataset.copy);
  if (!el) return;
  const label = b.innerHTML;
  try {
    await navigator.clipboard.writeText(el.textContent.trim());
    b.textContent = "Copied";
  } catch (e) {
    const r = document.createRange();
    r.selectNodeContents(el);
    const s = window.getSelection();
    s.removeAllRanges();
    s.addRange(r);
    b.textContent = "Press Ctrl+C";
  }
  setTimeout(() => { b.innerHTML = label; }, 2000);
});

// The token form: picking a date chooses "On a date".
document.addEventListener("input", (ev) => {
  if (ev.target.id === "expires") {
    const r = document.getElementById("expiry-custom");
    if (r) r.checked = true;
  }
});
