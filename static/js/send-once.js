/* Forms that create or change something carry a one-time token (the server's guarantee that a
   form sent twice takes effect once). This script only spares the second request: once such a
   form is sent, its submit buttons are disabled and a further submit is ignored, until the
   page is shown again (back button). Without JavaScript the forms work as before. */
(function () {
  "use strict";
  var BUTTONS = 'button:not([type]), button[type="submit"], input[type="submit"]';

  function tokened(form) {
    return form instanceof HTMLFormElement && form.querySelector('input[name="_once"]');
  }

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!tokened(form) || event.defaultPrevented) {
      return;
    }
    if (form.dataset.sending === "1") {
      event.preventDefault();
      return;
    }
    form.dataset.sending = "1";
    form.setAttribute("aria-busy", "true");
    // After this turn: the form's data (with the clicked button's name) is taken first.
    window.setTimeout(function () {
      form.querySelectorAll(BUTTONS).forEach(function (button) {
        button.disabled = true;
      });
    }, 0);
  });

  window.addEventListener("pageshow", function () {
    document.querySelectorAll('form[data-sending="1"]').forEach(function (form) {
      delete form.dataset.sending;
      form.removeAttribute("aria-busy");
      form.querySelectorAll(BUTTONS).forEach(function (button) {
        button.disabled = false;
      });
    });
  });
})();
