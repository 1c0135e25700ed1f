package ui

import (
	"context"
	"fmt"
	"math"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	v1 "k8s.io/api/core/v1"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/test/harness"
)

const (
	exitsOnTerm  = "trap 'exit 0' TERM; sleep 3600 & wait"
	ignoresTerm  = "trap '' TERM; sleep 3600 & wait"
	scriptMarker = "<script>window.pwned=1</script>"
)

func shell(script string) []string { return []string{"/bin/sh", "-c", script} }

func newSpec(name string, grace int64, containers ...harness.ContainerSpec) harness.PodSpec {
	n := time.Now().UnixNano() % 1000000
	return harness.PodSpec{Namespace: namespace, Name: fmt.Sprintf("%s-%d", name, n), UID: fmt.Sprintf("%s-uid-%d", name, n), GracePeriod: grace, Containers: containers}
}

// runAndDelete runs the pod, deletes it as the kubelet would, and waits for
// its summary in the collector.
func runAndDelete(t *testing.T, d *harness.Driver, a *harness.Agent, col *collector, spec harness.PodSpec) *apiv1.Event {
	t.Helper()
	ctx := context.Background()
	pod, err := d.RunPod(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	waitStarted(t, a, spec)
	if err := d.DeletePod(ctx, pod); err != nil {
		t.Fatal(err)
	}
	return col.summary(t, spec.Name)
}

// TestWebUI fills a collector with real terminations on containerd 2 and
// looks at them in headless Chromium: the list, a killed pod's timeline,
// a stuck pod, escaping and the keyboard.
func TestWebUI(t *testing.T) {
	b := startBrowser(t)
	c, d := startRuntime(t)
	col := startCollector(t)
	a := startAgent(t, c, col)
	base := "http://" + col.web + "/ui/"

	// The killed pod has two containers: main ignores SIGTERM and is
	// killed at the grace deadline; side exits on SIGTERM after a preStop
	// hook whose command line carries markup.
	killed := newSpec("killed", 3,
		harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)},
		harness.ContainerSpec{Name: "side", Command: shell(exitsOnTerm),
			PreStop: &v1.LifecycleHandler{Exec: &v1.ExecAction{Command: shell("echo '" + scriptMarker + "' >/dev/null")}}})
	graceful := newSpec("graceful", 3, harness.ContainerSpec{Name: "main", Command: shell(exitsOnTerm)})
	t.Run("the login form takes a reader token and the page refuses others", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base), chromedp.WaitVisible(chromedp.ID("#token")))
		b.do(t, chromedp.SendKeys(chromedp.ID("#token"), "not-a-token-of-this-collector"), chromedp.Submit(chromedp.ID("#token")))
		b.waitJS(t, 10*time.Second, "the refusal", `!document.getElementById("login-refused").hidden`)
		b.do(t, chromedp.SendKeys(chromedp.ID("#token"), readerToken), chromedp.Submit(chromedp.ID("#token")))
		b.waitJS(t, 10*time.Second, "the list", `document.getElementById("terminations") !== null && document.getElementById("login").hidden`)
		if url := eval[string](t, b, "location.href"); strings.Contains(url, readerToken) {
			t.Errorf("the token is in the URL %s", url)
		}
		if cookie := eval[string](t, b, "document.cookie"); cookie != "" {
			t.Errorf("the page's script can read cookies %q: the token's cookie must be HttpOnly", cookie)
		}
	})

	if s := runAndDelete(t, d, a, col, killed); s.Verdict != apiv1.VerdictKilled {
		t.Fatalf("the killed pod's summary in the collector: %v", s)
	}
	// The list is open while the graceful pod is deleted: it must come in
	// through the watch, without a reload (the page keeps a mark).
	b.do(t, chromedp.Navigate(base+"#/?namespace="+namespace))
	b.waitJS(t, 10*time.Second, "the list", `document.getElementById("terminations") !== null`)
	eval[bool](t, b, `window.stayed = true`)
	if s := runAndDelete(t, d, a, col, graceful); s.Verdict != apiv1.VerdictGraceful {
		t.Fatalf("the graceful pod's summary in the collector: %v", s)
	}

	t.Run("the list shows the deleted pods with their verdicts, the last one live", func(t *testing.T) {
		for _, tc := range []struct {
			spec    harness.PodSpec
			verdict string
		}{{killed, "killed"}, {graceful, "graceful"}} {
			b.waitJS(t, 20*time.Second, tc.spec.Name+" as "+tc.verdict,
				fmt.Sprintf(`(() => { const r = document.querySelector('a.row[data-pod=%q]'); return r !== null && r.dataset.verdict === %q && r.querySelector('.badge').textContent === %q })()`,
					namespace+"/"+tc.spec.Name, tc.verdict, tc.verdict))
		}
		if !eval[bool](t, b, `window.stayed === true`) {
			t.Error("the page was reloaded: the list did not update live")
		}
		b.screenshot(t, "terminations")
	})

	t.Run("the list and its rows are reached with Tab and opened with Enter", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"#/?namespace="+namespace))
		b.waitJS(t, 10*time.Second, "rows", `document.querySelectorAll("a.row").length >= 2`)
		reached := false
		for i := 0; i < 40 && !reached; i++ {
			b.do(t, chromedp.KeyEvent(kb.Tab))
			reached = eval[bool](t, b, `document.activeElement !== null && document.activeElement.matches("a.row")`)
		}
		if !reached {
			t.Fatal("40 Tabs never reached a row of the list")
		}
		pod := eval[string](t, b, `document.activeElement.dataset.pod`)
		b.do(t, chromedp.KeyEvent(kb.Enter))
		b.waitJS(t, 10*time.Second, "the pod view of "+pod, fmt.Sprintf(`document.getElementById("pod-name") !== null && document.getElementById("pod-name").textContent === %q`, pod))
	})

	var events []*apiv1.Event
	waitFor(t, 30*time.Second, "the killed pod's SIGKILL in the collector", func() bool {
		events = col.events(t, "namespaces/"+namespace+"/pods/"+killed.Name+"/timeline")
		return sigkillTo(events, "main") != nil
	})

	t.Run("the killed pod's timeline has a bar per container and SIGKILL at the grace deadline", func(t *testing.T) {
		b.do(t, chromedp.Navigate(base+"#/pod/"+namespace+"/"+killed.Name))
		b.waitJS(t, 10*time.Second, "the chart", `document.getElementById("gantt") !== null`)
		bars := eval[[]string](t, b, `Array.from(document.querySelectorAll("#gantt rect.container-bar")).map((r) => r.dataset.container).sort()`)
		if fmt.Sprint(bars) != "[main side]" {
			t.Errorf("container bars %v, want one for main and one for side", bars)
		}
		type geometry struct {
			SVGLeft, X0, T0, PxPerS, Marker, Deadline, DeadlineMs float64
		}
		g := eval[geometry](t, b, `(() => {
			const s = document.getElementById("gantt"), box = s.getBoundingClientRect();
			const m = document.querySelector('#gantt .marker.sig-SIGKILL[data-container="main"] path').getBoundingClientRect();
			const d = document.getElementById("grace-deadline").getBoundingClientRect();
			return {SVGLeft: box.left, X0: +s.dataset.x0, T0: +s.dataset.t0Ms, PxPerS: +s.dataset.pxPerS,
				Marker: m.left + m.width / 2, Deadline: d.left + d.width / 2, DeadlineMs: +document.getElementById("grace-deadline").dataset.timeMs};
		})()`)
		kill := sigkillTo(events, "main")
		killMs := float64(kill.GetTime().AsTime().UnixNano()) / 1e6
		at := func(ms float64) float64 { return g.SVGLeft + g.X0 + (ms-g.T0)/1000*g.PxPerS }
		t.Logf("geometry %+v; SIGKILL at %.1f ms, drawn at x=%.1f, its time maps to x=%.1f; deadline drawn at x=%.1f", g, killMs, g.Marker, at(killMs), g.Deadline)
		if diff := math.Abs(g.Marker - at(killMs)); diff > 3 {
			t.Errorf("the SIGKILL marker is %.1f px from where its time maps", diff)
		}
		// The runtime sends SIGKILL once the grace period has run out,
		// never before: the marker is on the deadline line or after it.
		// How far after is the runtime's reaction and the stagger between
		// the containers' stops (40 to 200 ms on a quiet machine, 1.8 s
		// once on a loaded one), which say nothing of the drawing.
		if g.Marker < g.Deadline-3 {
			t.Errorf("the SIGKILL marker is %.1f px before the grace deadline line", g.Deadline-g.Marker)
		}
		if killMs < g.DeadlineMs {
			t.Errorf("the grace deadline is drawn at %.1f ms, after the runtime's SIGKILL at %.1f ms", g.DeadlineMs, killMs)
		}
		if diff := math.Abs(g.Deadline - at(g.DeadlineMs)); diff > 3 {
			t.Errorf("the deadline line is %.1f px from where its time maps", diff)
		}
		b.screenshot(t, "pod")
	})

	t.Run("a workload string with a script tag renders as text", func(t *testing.T) {
		b.do(t, chromedp.Click(chromedp.ID("#raw-toggle")))
		b.waitJS(t, 10*time.Second, "the raw events", `!document.getElementById("raw").hidden`)
		if !eval[bool](t, b, fmt.Sprintf(`document.getElementById("raw").textContent.includes(%q)`, scriptMarker)) {
			t.Fatalf("the raw events lack the preStop command line %q", scriptMarker)
		}
		if !eval[bool](t, b, fmt.Sprintf(`Array.from(document.querySelectorAll("#gantt .marker title")).some((e) => e.textContent.includes(%q))`, scriptMarker)) {
			t.Errorf("no marker's title carries the preStop command line %q", scriptMarker)
		}
		if n := eval[int](t, b, `document.querySelectorAll("script").length`); n != 1 {
			t.Errorf("%d script elements in the page, want 1 (app.js)", n)
		}
		if eval[bool](t, b, `window.pwned !== undefined`) {
			t.Error("the workload's script ran")
		}
		b.screenshot(t, "pod-raw-events")
	})

	t.Run("the markers are reached with Tab, show their details on focus, and open their raw event with Enter", func(t *testing.T) {
		// The same pod by its UID: another address, so the view is drawn
		// afresh with the raw events closed.
		b.do(t, chromedp.Navigate(base+"#/pod/"+namespace+"/"+killed.Name+"?uid="+killed.UID))
		b.waitJS(t, 10*time.Second, "the chart", `document.getElementById("gantt") !== null`)
		reached := false
		for i := 0; i < 40 && !reached; i++ {
			b.do(t, chromedp.KeyEvent(kb.Tab))
			reached = eval[bool](t, b, `document.activeElement !== null && document.activeElement.matches("#gantt .marker")`)
		}
		if !reached {
			t.Fatal("40 Tabs never reached a marker")
		}
		kind := eval[string](t, b, `document.activeElement.dataset.kind`)
		index := eval[string](t, b, `document.activeElement.dataset.index`)
		b.waitJS(t, 5*time.Second, "the details of the focused "+kind, fmt.Sprintf(`document.getElementById("details").dataset.kind === %q`, kind))
		if !eval[bool](t, b, `document.getElementById("raw").hidden`) {
			t.Fatal("the raw events are open before Enter")
		}
		b.do(t, chromedp.KeyEvent(kb.Enter))
		b.waitJS(t, 5*time.Second, "the raw event of the "+kind+" open at its row",
			fmt.Sprintf(`!document.getElementById("raw").hidden && document.querySelector('#raw tr.selected') !== null && document.querySelector('#raw tr.selected').dataset.index === %q && document.querySelector('#raw tr.selected').textContent.includes(%q)`, index, kind))
	})

	t.Run("the stuck view shows a pod whose shim is stopped until it completes", func(t *testing.T) {
		spec := newSpec("stuck", 3, harness.ContainerSpec{Name: "main", Command: shell(ignoresTerm)})
		pod, err := d.RunPod(context.Background(), spec)
		if err != nil {
			t.Fatal(err)
		}
		waitStarted(t, a, spec)
		b.do(t, chromedp.Navigate(base+"#/stuck"))
		b.waitJS(t, 10*time.Second, "the stuck view", `document.getElementById("stuck") !== null`)
		done := make(chan error, 1)
		go func() { done <- d.DeletePod(context.Background(), pod) }()
		waitFor(t, 30*time.Second, "SIGTERM", func() bool {
			for _, e := range a.ForPod(spec.UID) {
				if e.Kind == apiv1.KindSignalGenerated && e.GetSignal().GetName() == "SIGTERM" {
					return true
				}
			}
			return false
		})
		shim := harness.ShimPid(pod.SandboxID)
		if shim <= 0 {
			t.Fatal("no shim to stop")
		}
		syscall.Kill(shim, syscall.SIGSTOP)
		continued := false
		defer func() {
			if !continued {
				syscall.Kill(shim, syscall.SIGCONT)
			}
		}()
		item := fmt.Sprintf(`document.querySelector('#stuck .stuck-item[data-pod=%q]')`, namespace+"/"+spec.Name)
		b.waitJS(t, 60*time.Second, spec.Name+" stuck with evidence", item+` !== null && `+item+`.textContent.includes("is stopped: it cannot act")`)
		b.screenshot(t, "stuck")
		syscall.Kill(shim, syscall.SIGCONT)
		continued = true
		if err := <-done; err != nil {
			t.Fatalf("deletion after SIGCONT: %v", err)
		}
		b.waitJS(t, 60*time.Second, spec.Name+" gone from the stuck view", item+` === null && document.getElementById("stuck") !== null`)
	})

	if p := b.problems.String(); p != "" {
		t.Errorf("the page had script exceptions or CSP violations:\n%s", p)
	}
}

// sigkillTo returns the SIGKILL sent to the named container.
func sigkillTo(events []*apiv1.Event, container string) *apiv1.Event {
	for _, e := range events {
		if e.Kind == apiv1.KindSignalGenerated && e.GetSignal().GetName() == "SIGKILL" && e.GetContainer().GetName() == container {
			return e
		}
	}
	return nil
}
