package conn

import (
	"context"
	"time"

	v1alpha1 "github.com/graceline/graceline/api/aggregated/v1alpha1"
	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/cmd/kubectl-graceline/kube"
	"github.com/graceline/graceline/internal/cli"
)

// Source answers the subcommands' queries in the event contract: a
// collector over gRPC, or the aggregated API through the API server.
type Source interface {
	Timeline(ctx context.Context, req *apiv1.TimelineRequest) (*apiv1.TimelineResponse, error)
	List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error)
	Stuck(ctx context.Context, req *apiv1.StuckRequest) (*apiv1.StuckResponse, error)
	Report(ctx context.Context, req *apiv1.ReportRequest) (*apiv1.ReportResponse, error)
	Check(ctx context.Context, req *apiv1.CheckRequest) (*apiv1.CheckResponse, error)
}

// collectorSource asks a collector; its gRPC errors become sentences here.
type collectorSource struct {
	q    apiv1.QueryClient
	addr string
}

func (s collectorSource) Timeline(ctx context.Context, req *apiv1.TimelineRequest) (*apiv1.TimelineResponse, error) {
	r, err := s.q.Timeline(ctx, req)
	return r, s.explain(err)
}

func (s collectorSource) List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	r, err := s.q.List(ctx, req)
	return r, s.explain(err)
}

func (s collectorSource) Stuck(ctx context.Context, req *apiv1.StuckRequest) (*apiv1.StuckResponse, error) {
	r, err := s.q.Stuck(ctx, req)
	return r, s.explain(err)
}

func (s collectorSource) Report(ctx context.Context, req *apiv1.ReportRequest) (*apiv1.ReportResponse, error) {
	r, err := s.q.Report(ctx, req)
	return r, s.explain(err)
}

func (s collectorSource) Check(ctx context.Context, req *apiv1.CheckRequest) (*apiv1.CheckResponse, error) {
	r, err := s.q.Check(ctx, req)
	return r, s.explain(err)
}

func (s collectorSource) explain(err error) error {
	if err == nil {
		return nil
	}
	return Explain(err, s.addr)
}

// apiSource asks the aggregated API; the objects it reads are turned into
// the event contract by api/aggregated/v1alpha1's conversion.
type apiSource struct{ c *kube.Client }

func (s apiSource) Timeline(ctx context.Context, req *apiv1.TimelineRequest) (*apiv1.TimelineResponse, error) {
	events, sum, err := s.c.Timeline(ctx, req.Namespace, req.Name, req.Uid)
	if err != nil {
		return nil, err
	}
	return &apiv1.TimelineResponse{Events: events, Summary: sum}, nil
}

// List asks for the namespace's terminations; the API has no time bound,
// so since is applied here, to the time each summary was last brought up
// to date.
func (s apiSource) List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	list, err := s.c.Terminations(ctx, req.Namespace, req.Node, req.Verdict, int64(req.Limit))
	if err != nil {
		return nil, err
	}
	resp := &apiv1.ListResponse{}
	for i := range list.Items {
		e := v1alpha1.FromTermination(&list.Items[i])
		if req.Since != nil && e.GetTime().AsTime().Before(req.Since.AsTime().Truncate(time.Second)) {
			continue
		}
		resp.Terminations = append(resp.Terminations, e)
	}
	return resp, nil
}

func (s apiSource) Stuck(ctx context.Context, req *apiv1.StuckRequest) (*apiv1.StuckResponse, error) {
	list, err := s.c.StuckPods(ctx, req.Namespace, req.Node)
	if err != nil {
		return nil, err
	}
	resp := &apiv1.StuckResponse{}
	for i := range list.Items {
		resp.Stuck = append(resp.Stuck, v1alpha1.FromStuck(&list.Items[i]))
	}
	return resp, nil
}

// Report asks for the namespace's workload reports over the request's
// window.
func (s apiSource) Report(ctx context.Context, req *apiv1.ReportRequest) (*apiv1.ReportResponse, error) {
	if err := req.GetSince().CheckValid(); err != nil {
		return nil, cli.Usagef("report: want the start of its window: %v", err)
	}
	list, err := s.c.Reports(ctx, req.Namespace, req.Since.AsTime())
	if err != nil {
		return nil, err
	}
	resp := &apiv1.ReportResponse{}
	for i := range list.Items {
		resp.Workloads = append(resp.Workloads, v1alpha1.FromWorkloadReport(&list.Items[i]))
	}
	return resp, nil
}

// Check asks for the namespace's terminationchecks, narrowed to the
// request's workload or pod, with the request's history window; the API
// keeps the collector's order (namespace, workload, pod, container).
func (s apiSource) Check(ctx context.Context, req *apiv1.CheckRequest) (*apiv1.CheckResponse, error) {
	var since time.Time
	if req.Since != nil {
		if err := req.Since.CheckValid(); err != nil {
			return nil, cli.Usagef("check: want the start of its history: %v", err)
		}
		since = req.Since.AsTime()
	}
	list, err := s.c.Checks(ctx, req.Namespace, req.Workload, req.Pod, since)
	if err != nil {
		return nil, err
	}
	resp := &apiv1.CheckResponse{}
	for i := range list.Items {
		resp.Containers = append(resp.Containers, v1alpha1.FromTerminationCheck(&list.Items[i]))
	}
	return resp, nil
}
