package ui

import (
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestContentSecurityPolicyHoldsInChromium injects an inline script into
// the signed-in page, as a markup bug would: Chromium must refuse to run it
// under the UI's policy, and report the violation that TestWebUI watches
// for.
func TestContentSecurityPolicyHoldsInChromium(t *testing.T) {
	b := startBrowser(t)
	col := startCollector(t)
	base := "http://" + col.web + "/ui/"
	b.do(t, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#token")))
	b.do(t, chromedp.SendKeys(chromedp.ID("#token"), readerToken), chromedp.Submit(chromedp.ID("#token")))
	b.waitJS(t, 10*time.Second, "the list", `document.getElementById("terminations") !== null`)
	eval[bool](t, b, `(() => { const s = document.createElement("script"); s.textContent = "window.inlineRan = true"; document.body.append(s); return true })()`)
	waitFor(t, 10*time.Second, "the violation's report", func() bool { return strings.Contains(b.problems.String(), "Content Security Policy") })
	if eval[bool](t, b, `window.inlineRan === true`) {
		t.Error("an inline script ran")
	}
	t.Logf("reported: %s", b.problems.String())
}
