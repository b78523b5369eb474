// Placeholder: the console's single-page app replaces this file.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  const app = document.getElementById("app");
  const p = document.createElement("p");
  p.textContent = "Seam console";
  app.appendChild(p);
});
