package query

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/types/known/durationpb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// Report sums up terminations per owner workload whose delete was requested
// since since, in namespace (all when empty). The store computes it; this
// only checks the request and shapes the answer.
func (s *Service) Report(ctx context.Context, namespace string, since time.Time) ([]*apiv1.WorkloadReport, error) {
	if err := checkNames(field{"namespace", namespace, maxNamespaceLen}); err != nil {
		return nil, err
	}
	if !since.After(epoch) {
		return nil, fmt.Errorf("%w: since: a report needs the start of its window, after 1970", ErrInvalid)
	}
	if since.After(time.Now()) {
		return nil, fmt.Errorf("%w: since: want a time in the past, got %s, which is in the future", ErrInvalid, since.UTC().Format(time.RFC3339))
	}
	rows, err := s.store.Report(ctx, namespace, since.UnixNano())
	if err != nil {
		return nil, err
	}
	out := make([]*apiv1.WorkloadReport, 0, len(rows))
	for _, w := range rows {
		out = append(out, &apiv1.WorkloadReport{
			Namespace: w.Namespace, Workload: &apiv1.WorkloadRef{Kind: w.Kind, Name: w.Name},
			Terminations: w.Terminations, Finished: w.Finished, Killed: w.Killed, TrafficRisk: w.TrafficRisk, Stuck: w.Stuck,
			DurationP50: durationpb.New(time.Duration(w.P50Ns)), DurationP95: durationpb.New(time.Duration(w.P95Ns)),
			Cause: w.Cause, CauseCount: w.CauseCount, Advice: w.Advice, Initiators: w.Initiators,
		})
	}
	return out, nil
}
