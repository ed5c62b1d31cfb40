// Progressive enhancement of the cookie banner (CON-4): "Settings" opens a dialog in the page
// instead of the settings page. Without JavaScript every button still works as a plain form.
(function () {
  "use strict";
  var banner = document.getElementById("pp-cookie-banner");
  var dialog = document.getElementById("pp-cookie-dialog");
  if (!banner || !dialog || typeof dialog.showModal !== "function") return;
  var open = banner.querySelector("[data-cookie-settings]");
  var close = dialog.querySelector("[data-cookie-close]");
  if (open) {
    open.addEventListener("click", function (event) {
      event.preventDefault();
      dialog.showModal();
    });
  }
  if (close) {
    close.addEventListener("click", function () {
      dialog.close();
    });
  }
})();
