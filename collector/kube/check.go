package kube

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
	corev1 "k8s.io/api/core/v1"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// finalSettle is how long a deleted pod's summary waits at least, for the
// EndpointSlice updates that follow the object's removal.
const finalSettle = 5 * time.Second

// nodeActions are the agent's event kinds that show the node working on a
// deletion.
var nodeActions = apiv1.NodeActionKinds()

// check looks at every open deletion: a deleted pod gets its final summary,
// and one that hangs outside the node gets a stuck report.
func (w *Watcher) check(ctx context.Context) {
	now := w.now()
	w.state.mu.Lock()
	w.state.prune(now)
	w.state.mu.Unlock()
	for uid, d := range w.state.snapshot() {
		if ctx.Err() != nil {
			return
		}
		var err error
		switch {
		case !d.finalized.IsZero():
		case d.deleted.IsZero():
			err = w.checkStuck(ctx, uid, &d, now)
		default:
			err = w.finalize(ctx, uid, &d, now)
		}
		if err != nil {
			w.log.Warn("check deletion", "pod", d.ref.Namespace+"/"+d.ref.Name, "pod_uid", uid, "err", err)
		}
	}
}

// nodeDone returns when the node finished the pod's termination, from its
// agent's final summary; zero when it has not.
func (w *Watcher) nodeDone(ctx context.Context, uid string) (time.Time, error) {
	b, err := w.st.LatestNodeEvent(ctx, uid, apiv1.KindTerminationSummary)
	if errors.Is(err, store.ErrNotFound) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, err
	}
	s, err := decode(b)
	if err != nil {
		return time.Time{}, err
	}
	if s.Verdict == apiv1.VerdictStuck {
		return time.Time{}, nil
	}
	return summary.NodeDone(s), nil
}

// checkStuck reports a deletion the node finished but the object outlives
// (finalizers, or a kubelet that does not confirm), or one the node never
// started.
func (w *Watcher) checkStuck(ctx context.Context, uid string, d *deletion, now time.Time) error {
	if !d.lastStuck.IsZero() && now.Sub(d.lastStuck) < w.cfg.StuckEvery {
		return nil
	}
	done, err := w.nodeDone(ctx, uid)
	if err != nil {
		return err
	}
	var phase string
	var since time.Time
	var evidence []string
	switch {
	case !done.IsZero():
		if now.Sub(done) < w.cfg.StuckAfter {
			return nil
		}
		since = done
		if len(d.finalizers) > 0 {
			phase = apiv1.PhaseFinalizers
			evidence = append(evidence, fmt.Sprintf("the node finished %s ago, but the object is held by finalizers: %s; whatever owns them has not removed them",
				round(now.Sub(done)), strings.Join(d.finalizers, ", ")))
		} else {
			phase = apiv1.PhaseNode
			evidence = append(evidence, fmt.Sprintf("the node finished %s ago and no finalizer remains, but the kubelet has not confirmed the deletion", round(now.Sub(done))))
			evidence = append(evidence, w.nodeEvidence(d.node, now)...)
		}
	case d.node != "":
		if now.Sub(d.requested) < w.cfg.StuckAfter {
			return nil
		}
		_, err := w.st.FirstNodeEvent(ctx, uid, d.requested.UnixNano(), nodeActions...)
		if err == nil {
			return nil // the node is working on it; its agent reports if it hangs
		}
		if !errors.Is(err, store.ErrNotFound) {
			return err
		}
		phase, since = apiv1.PhaseNode, d.requested
		evidence = append(evidence, fmt.Sprintf("nothing from node %s about this pod since the delete request %s ago", d.node, round(now.Sub(d.requested))))
		evidence = append(evidence, w.nodeEvidence(d.node, now)...)
	default:
		return nil // never scheduled: the API deletes it by itself
	}
	blocker := summary.Blocker{Cause: apiv1.StuckNodeSilent, What: d.node, Facts: evidence}
	if phase == apiv1.PhaseFinalizers {
		blocker = summary.Blocker{Cause: apiv1.StuckFinalizers, What: strings.Join(d.finalizers, ", "), Facts: evidence}
	}
	e := w.state.event(apiv1.KindStuck, d, now)
	e.BlockingPhase, e.Since, e.Evidence, e.Finalizers = phase, timestamppb.New(since), evidence, d.finalizers
	e.Causes = []*apiv1.ContainerCause{blocker.StuckCause()}
	w.writer.add(e, fmt.Sprintf("%s/%s/%d", uid, apiv1.KindStuck, now.UnixNano()))
	w.metrics.stuck.WithLabelValues(phase).Inc()
	w.state.stuckReported(uid, now)
	w.log.Warn("pod stuck terminating", "pod", d.ref.Namespace+"/"+d.ref.Name, "pod_uid", uid, "blocking_phase", phase, "evidence", evidence)
	return nil
}

// nodeEvidence says whether the node's agent streams and when its kubelet
// last reported.
func (w *Watcher) nodeEvidence(node string, now time.Time) []string {
	var out []string
	if w.agents != nil {
		connected, last := w.agents.Agent(node)
		switch {
		case connected:
			out = append(out, fmt.Sprintf("the graceline agent on %s is connected (last batch %s ago)", node, round(now.Sub(last))))
		case last.IsZero():
			out = append(out, fmt.Sprintf("no graceline agent on %s has sent anything since the collector started", node))
		default:
			out = append(out, fmt.Sprintf("the graceline agent on %s is not connected; its last batch was %s ago", node, round(now.Sub(last))))
		}
	}
	n, err := w.state.nodes.Lister().Get(node)
	if err != nil {
		return append(out, fmt.Sprintf("node %s: %v", node, err))
	}
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			out = append(out, fmt.Sprintf("node %s Ready=%s (%s); the kubelet's last status heartbeat was %s ago (it refreshes the status every few minutes when nothing changes)",
				node, c.Status, c.Reason, round(now.Sub(c.LastHeartbeatTime.Time))))
		}
	}
	return out
}

// finalize stores the joined summary of a deleted pod once its node sent
// its own, or once waiting longer is pointless.
func (w *Watcher) finalize(ctx context.Context, uid string, d *deletion, now time.Time) error {
	done, err := w.nodeDone(ctx, uid)
	if err != nil {
		return err
	}
	since := now.Sub(d.deleted)
	if since < finalSettle || done.IsZero() && d.node != "" && since < w.cfg.FinalWait {
		return nil
	}
	bodies, err := w.st.PodEvents(ctx, uid)
	if err != nil {
		return err
	}
	events := make([]*apiv1.Event, 0, len(bodies))
	for _, b := range bodies {
		e, err := decode(b)
		if err != nil {
			return err
		}
		events = append(events, e)
	}
	s := w.summarize(events)
	if s != nil {
		s = proto.Clone(s).(*apiv1.Event)
		s.Source = apiv1.SourceAPI
		// The final summary shows what the check predicted beside each
		// cause, so that a reader sees where it was wrong.
		for _, c := range s.Causes {
			predicted, ok, err := w.st.Predicted(ctx, uid, c.GetContainer().GetName())
			if err != nil {
				return err
			}
			if ok {
				c.Predicted = predicted
			}
		}
		w.writer.add(s, uid+"/"+apiv1.KindTerminationSummary)
	}
	w.state.finished(uid, now)
	return nil
}

func decode(b []byte) (*apiv1.Event, error) {
	e := new(apiv1.Event)
	if err := proto.Unmarshal(b, e); err != nil {
		return nil, fmt.Errorf("decode stored event: %w", err)
	}
	return e, nil
}

func round(d time.Duration) time.Duration { return d.Round(100 * time.Millisecond) }
