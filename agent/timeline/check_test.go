package timeline

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cri"
)

// observingInspector feeds the correlator an event while it inspects, as
// the pipeline's goroutine does while a slow /proc scan runs.
type observingInspector struct {
	c  *Correlator
	ev *apiv1.Event
}

func (o observingInspector) Inspect(Subject) Inspection {
	o.c.Observe(o.ev)
	return Inspection{Evidence: []string{"inspected"}}
}

func (o observingInspector) Processes(SubjectContainer) ([]*apiv1.Process, bool) { return nil, false }

func TestCheckInspectsWithoutTheLock(t *testing.T) {
	t0 := time.Unix(2000, 0)
	pod := &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "u"}
	// The runtime's signals to the container's init process, which does
	// not exit: a hang, whatever the outcome.
	ev := func(sig string, at time.Duration) *apiv1.Event {
		return &apiv1.Event{Kind: apiv1.KindSignalGenerated, Time: timestamppb.New(t0.Add(at)), Pod: pod, Container: &apiv1.ContainerRef{Id: "c1", Name: "main"},
			Signal: &apiv1.Signal{Name: sig}, Target: &apiv1.Task{Pid: 42}, Sender: &apiv1.Sender{Comm: "runc"}}
	}
	// The kubelet's new container of the same name: the stop was a restart.
	restarted := &apiv1.Event{Kind: apiv1.KindContainerCreated, Time: timestamppb.New(t0.Add(39 * time.Second)), Pod: pod, Container: &apiv1.ContainerRef{Id: "c2", Name: "main"}}
	cases := []struct {
		name     string
		during   *apiv1.Event
		checkAt  time.Duration
		wantKind string
	}{
		{name: "An event observed during an inspection is taken, and the stuck report still comes.", during: ev("SIGKILL", 2*time.Second), checkAt: 40 * time.Second, wantKind: apiv1.KindStuck},
		{name: "An event observed during an inspection before the deadline reports nothing.", during: ev("SIGKILL", 2*time.Second), checkAt: time.Second},
		{name: "A stop found to be a restart during an inspection is not reported stuck.", during: restarted, checkAt: 40 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out []*apiv1.Event
			c := New("n", func(e *apiv1.Event) { out = append(out, e) }, nil, DefaultConfig())
			c.inspect = observingInspector{c: c, ev: tc.during}
			c.ContainerChanged(cri.ContainerInfo{ID: "c1", Meta: cri.Meta{PodNamespace: "ns", PodName: "p", PodUID: "u", ContainerName: "main", GracePeriod: 5}, Pid: 42})
			c.Observe(ev("SIGTERM", time.Second))
			c.now = func() time.Time { return t0.Add(tc.checkAt) }
			done := make(chan struct{})
			go func() {
				defer close(done)
				c.Check()
			}()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Fatal("Check held its lock while inspecting: Observe from the inspector never returned")
			}
			if tc.wantKind == "" {
				if len(out) != 0 {
					t.Fatalf("emitted %v", out)
				}
				return
			}
			if len(out) != 1 || out[0].Kind != tc.wantKind || len(out[0].Evidence) == 0 || out[0].Evidence[0] != "inspected" {
				t.Fatalf("emitted %v, want one %s with the inspector's evidence", out, tc.wantKind)
			}
		})
	}
}
