// The periodic task form of the admin: when a crontab is chosen, its help text also names the
// schedule in words (django-celery-beat's behaviour, without an inline script).
(function () {
  "use strict";
  var data = document.getElementById("readable-crontabs");
  var select = document.getElementById("id_crontab");
  var help = document.querySelector(".field-crontab .help");
  if (!data || !select || !help) return;
  var readable = JSON.parse(data.textContent);
  var original = help.textContent;
  var translation = document.querySelector(".field-crontab_translation");
  if (translation) translation.style.display = "none"; // CSSOM, which the policy allows
  select.addEventListener("change", function () {
    var words = readable[select.value];
    help.textContent = words ? original + " — " + words : original;
  });
})();
