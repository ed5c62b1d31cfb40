// Stand-in for a real analytics tag (CON-4): base.html loads it only once the visitor has
// granted analytics cookies. It sets no cookie and sends nothing; it only says it loaded.
(function () {
  "use strict";
  window.__ppAnalyticsLoaded = true;
  if (window.console && console.info) console.info("privacy portal: analytics stub loaded");
})();
