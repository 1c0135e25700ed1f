package query

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	"github.com/graceline/graceline/api/summary"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
)

// DefaultCheckHistory is how far back a check looks for past terminations
// when the request does not say.
const DefaultCheckHistory = 7 * 24 * time.Hour

// Owners names a running pod's owner workload and grace period; the
// collector's Kubernetes watches are one. ok is false for a pod they do not
// know.
type Owners interface {
	PodOwner(namespace, name string) (workload *apiv1.WorkloadRef, grace time.Duration, ok bool)
}

// SetOwners lets checks name each pod's workload. Without it, a check
// knows pods by name only, and one by workload finds nothing.
func (s *Service) SetOwners(o Owners) { s.owners = o }

// CheckFilter narrows Check. Workload needs both its kind and its name.
type CheckFilter struct {
	Namespace, Pod string
	Workload       *apiv1.WorkloadRef
	Since          time.Time
}

// Check returns, for each container of the running pods that f selects,
// the node's latest readiness, judged again with the history of its
// workload (of its pod's name, for a pod without one) since f.Since.
func (s *Service) Check(ctx context.Context, f CheckFilter, now time.Time) ([]*apiv1.ContainerCheck, error) {
	if err := checkNames(field{"namespace", f.Namespace, maxNamespaceLen}, field{"pod", f.Pod, maxNameLen},
		field{"workload kind", f.Workload.GetKind(), maxNameLen}, field{"workload name", f.Workload.GetName(), maxNameLen}); err != nil {
		return nil, err
	}
	if f.Pod != "" && f.Namespace == "" {
		return nil, fmt.Errorf("%w: pod: a pod is checked within its namespace: give one", ErrInvalid)
	}
	if f.Workload != nil && (f.Workload.Kind == "" || f.Workload.Name == "" || f.Namespace == "") {
		return nil, fmt.Errorf("%w: workload: want its kind, its name and its namespace", ErrInvalid)
	}
	if f.Since.After(now) {
		return nil, fmt.Errorf("%w: since: want a time in the past, got %s, which is in the future", ErrInvalid, f.Since.UTC().Format(time.RFC3339))
	}
	if !f.Since.After(epoch) {
		f.Since = now.Add(-DefaultCheckHistory)
	}
	rows, err := s.store.RunningReadiness(ctx, f.Namespace, f.Pod)
	if err != nil {
		return nil, err
	}
	histories, err := s.store.Histories(ctx, f.Namespace, f.Since.UnixNano())
	if err != nil {
		return nil, err
	}
	var out []*apiv1.ContainerCheck
	for _, r := range rows {
		e := s.decode(r.Body)
		if e == nil {
			continue
		}
		c := &apiv1.ContainerCheck{Namespace: r.Namespace, Pod: &apiv1.PodRef{Namespace: r.Namespace, Name: r.Pod, Uid: r.UID}, Container: r.Container, Readiness: e}
		of, w, grace := s.historyOf(r)
		c.Workload = w
		if grace > 0 {
			c.Grace = durationpb.New(grace)
		}
		if f.Workload != nil && (c.Workload == nil || !strings.EqualFold(c.Workload.Kind, f.Workload.Kind) || c.Workload.Name != f.Workload.Name) {
			continue
		}
		h := histories[of]
		c.Terminations, c.Killed, c.LastCause = h.Finished, h.Killed, h.LastCause
		if h.Finished > 0 {
			c.ShutdownP95 = durationpb.New(time.Duration(h.P95Ns))
		}
		c.Prediction = summary.PredictFrom(e, h.LastCause)
		out = append(out, c)
	}
	slices.SortStableFunc(out, func(a, b *apiv1.ContainerCheck) int {
		return strings.Compare(a.Namespace+"\x00"+workloadKey(a.Workload), b.Namespace+"\x00"+workloadKey(b.Workload))
	})
	return out, nil
}

// PredictedKills counts, by namespace, the containers of running pods whose
// next stop is predicted to need SIGKILL, judged as Check judges them by
// default: the node's latest readiness with the cause of its workload's
// last termination in DefaultCheckHistory. graceline_containers_predicted_kill
// is this count, so that an alert on it and `check -A` never disagree.
func (s *Service) PredictedKills(ctx context.Context, now time.Time) (map[string]int, error) {
	rows, err := s.store.RunningReadiness(ctx, "", "")
	if err != nil {
		return nil, err
	}
	histories, err := s.store.Histories(ctx, "", now.Add(-DefaultCheckHistory).UnixNano())
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		e := s.decode(r.Body)
		if e == nil {
			continue
		}
		of, _, _ := s.historyOf(r)
		if summary.PredictFrom(e, histories[of].LastCause).GetOutcome() == summary.OutcomeKilled {
			out[r.Namespace]++
		}
	}
	return out, nil
}

// historyOf names the history a running pod's container is judged with:
// its owner workload's, as the Kubernetes watches know it, or that of the
// pods of its name when it has none. It also gives the owner and the pod's
// grace period, when known.
func (s *Service) historyOf(r store.ReadinessRow) (store.HistoryOf, *apiv1.WorkloadRef, time.Duration) {
	of := store.HistoryOf{Namespace: r.Namespace, Name: r.Pod}
	if s.owners == nil {
		return of, nil, 0
	}
	w, grace, ok := s.owners.PodOwner(r.Namespace, r.Pod)
	if !ok {
		return of, nil, 0
	}
	if w != nil {
		of.Kind, of.Name = w.Kind, w.Name
	}
	return of, w, grace
}

func workloadKey(w *apiv1.WorkloadRef) string {
	if w == nil {
		return ""
	}
	return w.Kind + "/" + w.Name
}
