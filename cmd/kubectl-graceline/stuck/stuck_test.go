package stuck

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
)

var now = time.Date(2026, 11, 26, 20, 5, 0, 0, time.UTC)

func ago(d time.Duration) *timestamppb.Timestamp { return timestamppb.New(now.Add(-d)) }

func TestRender(t *testing.T) {
	cases := []struct {
		name  string
		stuck []*apiv1.Event
		want  string
	}{
		{
			name:  "nothing stuck says so",
			stuck: nil,
			want:  "no stuck pods\n",
		},
		{
			name: "an agent's report and the collector's read blocking phase first, then what holds the pod",
			stuck: []*apiv1.Event{
				{Kind: apiv1.KindStuck, Time: ago(5 * time.Second), Since: ago(95 * time.Second), Node: "worker-3",
					Pod: &apiv1.PodRef{Namespace: "shop", Name: "web-1"}, BlockingPhase: "sigkill",
					Evidence: []string{"main pid 1 (nginx) state D (disk sleep), wchan nfs_wait_bit_killable", "SIGKILL pending"}},
				{Kind: apiv1.KindStuck, Source: apiv1.SourceAPI, Time: ago(time.Second), Since: ago(2 * time.Minute), Node: "worker-1",
					Pod: &apiv1.PodRef{Namespace: "batch", Name: "job-7"}, BlockingPhase: apiv1.PhaseFinalizers,
					Finalizers: []string{"example.com/hold"},
					Evidence:   []string{"the node finished 2m0s ago, but the object is held by finalizers: example.com/hold; whatever owns them has not removed them"}},
			},
			want: `POD shop/web-1  node worker-3  source node  stuck for 1m35s (since 2026-11-26T20:03:25Z)
  BLOCKING    sigkill
  EVIDENCE    - main pid 1 (nginx) state D (disk sleep), wchan nfs_wait_bit_killable
              - SIGKILL pending
  TRY         a process did not exit after SIGKILL: it is likely in uninterruptible sleep (D state) on I/O or a hung mount

POD batch/job-7  node worker-1  source API  stuck for 2m0s (since 2026-11-26T20:03:00Z)
  BLOCKING    finalizers
  FINALIZERS  example.com/hold
  EVIDENCE    - the node finished 2m0s ago, but the object is held by finalizers: example.com/hold; whatever owns them has not removed them
  TRY         a finalizer is still set: find the controller that owns it, or remove it once you know why it is there
`,
		},
		{
			name: "a report that names its causes gives each with the one thing to try, instead of the phase's hint",
			stuck: []*apiv1.Event{
				{Kind: apiv1.KindStuck, Time: ago(5 * time.Second), Since: ago(95 * time.Second), Node: "worker-3",
					Pod: &apiv1.PodRef{Namespace: "shop", Name: "web-2"}, BlockingPhase: apiv1.PhaseResourceRelease,
					Evidence: []string{"mount still present: /var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache", "sleep (pid 4242) keeps it busy: its working directory is in /var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache"},
					Causes: []*apiv1.ContainerCause{
						summary.Blocker{Cause: apiv1.StuckBusyMount, What: "sleep (pid 4242)"}.StuckCause(),
						summary.Blocker{Cause: apiv1.StuckCgroupFrozen, Container: "main"}.StuckCause(),
					}},
			},
			want: `POD shop/web-2  node worker-3  source node  stuck for 1m35s (since 2026-11-26T20:03:25Z)
  BLOCKING    resource_release
  EVIDENCE    - mount still present: /var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache
              - sleep (pid 4242) keeps it busy: its working directory is in /var/lib/kubelet/pods/u/volumes/kubernetes.io~empty-dir/cache
  CAUSE       busy_mount: a volume cannot be unmounted: something still uses it
  TRY         sleep (pid 4242) keeps the pod's volume busy: stop it, or move its working directory and open files out of the volume; the kubelet retries the unmount and the pod goes
  CAUSE       container main  cgroup_frozen: a container's cgroup is frozen
  TRY         container main's cgroup is frozen, so not even SIGKILL acts: thaw it (crictl or ctr resume for a paused container; cgroup.freeze or freezer.state otherwise) and find what froze it
`,
		},
		{
			name: "a summary stuck by its verdict without a phase says the phase is unknown",
			stuck: []*apiv1.Event{
				{Kind: apiv1.KindTerminationSummary, Time: ago(time.Minute), Node: "worker-2",
					Pod: &apiv1.PodRef{Namespace: "shop", Name: "db-0"}, Verdict: apiv1.VerdictStuck},
			},
			want: `POD shop/db-0  node worker-2  source node  stuck for 1m0s (since 2026-11-26T20:04:00Z)
  BLOCKING    unknown
`,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var b bytes.Buffer
			if err := Render(&b, tc.stuck, now); err != nil {
				t.Fatal(err)
			}
			if got := b.String(); got != tc.want {
				t.Errorf("got:\n%s\nwant:\n%s", got, tc.want)
			}
			for _, line := range strings.Split(b.String(), "\n") {
				if strings.HasSuffix(line, " ") {
					t.Errorf("line ends in spaces: %q", line)
				}
			}
		})
	}
}

func TestNamespace(t *testing.T) {
	cases := []struct {
		name string
		flag string
		all  bool
		want string
	}{
		{"without -n every namespace is asked about", "", false, ""},
		{"-n narrows to one namespace", "shop", false, "shop"},
		{"-A wins over -n, as in kubectl", "shop", true, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := namespace(tc.flag, tc.all); got != tc.want {
				t.Errorf("namespace(%q, %v) = %q, want %q", tc.flag, tc.all, got, tc.want)
			}
		})
	}
}
