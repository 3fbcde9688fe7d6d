// Copy buttons: <button data-copy="ID"> copies the text of element ID.
document.addEventListener("click", async (ev) => {
  const b = ev.target.closest("button[data-copy]");
  if (!b) return;
  const el = document.getElementById(b.dataset.copy);
  if (!el) return;
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
  setTimeout(() => { b.textContent = "Copy"; }, 2000);
});
