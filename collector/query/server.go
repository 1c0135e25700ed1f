package query

import (
	"context"
	"errors"
	"fmt"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// Server is the gRPC face of a Service.
type Server struct {
	apiv1.UnimplementedQueryServer
	svc *Service
}

// NewServer returns the Query service backed by svc.
func NewServer(svc *Service) *Server { return &Server{svc: svc} }

// Timeline implements apiv1.QueryServer.
func (s *Server) Timeline(ctx context.Context, req *apiv1.TimelineRequest) (*apiv1.TimelineResponse, error) {
	events, sum, err := s.svc.Timeline(ctx, req.Namespace, req.Name, req.Uid)
	if err != nil {
		return nil, toStatus(err)
	}
	return &apiv1.TimelineResponse{Events: events, Summary: sum}, nil
}

// List implements apiv1.QueryServer.
func (s *Server) List(ctx context.Context, req *apiv1.ListRequest) (*apiv1.ListResponse, error) {
	f := ListFilter{Namespace: req.Namespace, Node: req.Node, Verdict: req.Verdict, Limit: int(req.Limit)}
	if req.Since != nil {
		if err := req.Since.CheckValid(); err != nil {
			return nil, toStatus(fmt.Errorf("%w: since: want a time within years 0001 to 9999: %w", ErrInvalid, err))
		}
		f.Since = req.Since.AsTime()
	}
	out, err := s.svc.List(ctx, f)
	if err != nil {
		return nil, toStatus(err)
	}
	return &apiv1.ListResponse{Terminations: out}, nil
}

// Stuck implements apiv1.QueryServer.
func (s *Server) Stuck(ctx context.Context, req *apiv1.StuckRequest) (*apiv1.StuckResponse, error) {
	out, err := s.svc.Stuck(ctx, req.Namespace, req.Node)
	if err != nil {
		return nil, toStatus(err)
	}
	return &apiv1.StuckResponse{Stuck: out}, nil
}

// Report implements apiv1.QueryServer.
func (s *Server) Report(ctx context.Context, req *apiv1.ReportRequest) (*apiv1.ReportResponse, error) {
	if err := req.GetSince().CheckValid(); err != nil {
		return nil, toStatus(fmt.Errorf("%w: since: want a time within years 0001 to 9999: %w", ErrInvalid, err))
	}
	out, err := s.svc.Report(ctx, req.Namespace, req.Since.AsTime())
	if err != nil {
		return nil, toStatus(err)
	}
	return &apiv1.ReportResponse{Workloads: out}, nil
}

// Check implements apiv1.QueryServer.
func (s *Server) Check(ctx context.Context, req *apiv1.CheckRequest) (*apiv1.CheckResponse, error) {
	f := CheckFilter{Namespace: req.Namespace, Pod: req.Pod, Workload: req.Workload}
	if req.Since != nil {
		if err := req.Since.CheckValid(); err != nil {
			return nil, toStatus(fmt.Errorf("%w: since: want a time within years 0001 to 9999: %w", ErrInvalid, err))
		}
		f.Since = req.Since.AsTime()
	}
	out, err := s.svc.Check(ctx, f, time.Now())
	if err != nil {
		return nil, toStatus(err)
	}
	return &apiv1.CheckResponse{Containers: out}, nil
}

// Watch implements apiv1.QueryServer.
func (s *Server) Watch(req *apiv1.WatchRequest, stream apiv1.Query_WatchServer) error {
	f := watch.Filter{Namespace: req.Namespace, Node: req.Node, Name: req.Name}
	// The header tells the client that its subscription is in place.
	ready := func() error { return stream.SendHeader(metadata.MD{}) }
	return toStatus(s.svc.Watch(stream.Context(), f, ready, stream.Send))
}

// toStatus converts the service's errors to gRPC status at this edge.
func toStatus(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return status.Error(codes.NotFound, err.Error())
	case errors.Is(err, ErrInvalid):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrWatcherBehind):
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	}
	if _, ok := status.FromError(err); ok {
		return err
	}
	return status.Error(codes.Internal, err.Error())
}
