package query

import (
	"context"
	"log/slog"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
	"github.com/graceline/graceline/collector/store"
	"github.com/graceline/graceline/collector/watch"
)

// serveGRPC serves svc on a loopback port and returns a client of it.
func serveGRPC(t *testing.T, svc *Service) apiv1.QueryClient {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer()
	apiv1.RegisterQueryServer(gs, NewServer(svc))
	go gs.Serve(ln)
	t.Cleanup(gs.Stop)
	cc, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return apiv1.NewQueryClient(cc)
}

func TestServerOverGRPC(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, filepath.Join(t.TempDir(), "db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	year10000 := &timestamppb.Timestamp{Seconds: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).Unix()}
	fill(t, st,
		ev(apiv1.KindSandboxRemoved, 0, withPod("ns", "web", "web-1")),
		ev(apiv1.KindSandboxStopped, time.Second, withPod("ns", "poison", "poison-1")),
		ev(apiv1.KindContainerExited, 0, exit(137), withPod("ns", "poison", "poison-1"), func(e *apiv1.Event) { e.ExitedAt = year10000 }),
		ev(apiv1.KindTerminationSummary, 2*time.Second, withPod("ns", "poison", "poison-1"), func(e *apiv1.Event) {
			e.Verdict, e.Since = apiv1.VerdictKilled, year10000
		}),
		ev(apiv1.KindSandboxRemoved, 3*time.Second, withPod("ns", "api", "api-1")),
	)
	q := serveGRPC(t, NewService(st, watch.NewHub(prometheus.NewRegistry()), prometheus.NewRegistry(), slog.New(slog.DiscardHandler)))

	t.Run("a listing that reaches a time JSON cannot carry is served whole and encodes as JSON", func(t *testing.T) {
		resp, err := q.List(ctx, &apiv1.ListRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range resp.Terminations {
			names = append(names, e.GetPod().GetName())
			if _, err := apiv1.MarshalJSONLine(e); err != nil {
				t.Errorf("summary of %s does not encode as JSON: %v", e.GetPod().GetName(), err)
			}
		}
		if strings.Join(names, " ") != "api poison web" {
			t.Errorf("listed %v, want api poison web", names)
		}
	})
	t.Run("a timeline with such a time encodes as JSON", func(t *testing.T) {
		resp, err := q.Timeline(ctx, &apiv1.TimelineRequest{Namespace: "ns", Name: "poison"})
		if err != nil || len(resp.Events) != 3 {
			t.Fatalf("Timeline = %v, %v", resp, err)
		}
		for _, e := range append(resp.Events, resp.Summary) {
			if _, err := apiv1.MarshalJSONLine(e); err != nil {
				t.Errorf("%s does not encode as JSON: %v", e.Kind, err)
			}
		}
	})

	invalid := []struct {
		name string
		req  *apiv1.ListRequest
		want string
	}{
		{"an unknown verdict is refused with the known ones", &apiv1.ListRequest{Verdict: "bogus"}, "verdict: want one of graceful, killed, stuck"},
		{"a limit over the maximum is refused naming it", &apiv1.ListRequest{Limit: MaxLimit + 1}, "limit: want 1 to 1000"},
		{"a negative limit is refused", &apiv1.ListRequest{Limit: -1}, "limit"},
		{"a since in the future is refused", &apiv1.ListRequest{Since: timestamppb.New(time.Now().Add(time.Hour))}, "since: want a time in the past"},
		{"a since JSON cannot carry is refused", &apiv1.ListRequest{Since: year10000}, "since: want a time within years 0001 to 9999"},
		{"a namespace longer than a DNS label is refused", &apiv1.ListRequest{Namespace: strings.Repeat("a", 64)}, "namespace: want at most 63 characters"},
		{"a node name longer than a DNS subdomain is refused", &apiv1.ListRequest{Node: strings.Repeat("a", 254)}, "node: want at most 253 characters"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			_, err := q.List(ctx, tc.req)
			if status.Code(err) != codes.InvalidArgument || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("List = %v, want InvalidArgument with %q", err, tc.want)
			}
		})
	}
	t.Run("a watch filter with an overlong name is refused", func(t *testing.T) {
		// A watch that was let through would wait for events: the deadline
		// makes it fail instead.
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		stream, err := q.Watch(wctx, &apiv1.WatchRequest{Name: strings.Repeat("a", 254)})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("Watch = %v, want InvalidArgument", err)
		}
	})
	t.Run("a known verdict at the maximum limit is served", func(t *testing.T) {
		resp, err := q.List(ctx, &apiv1.ListRequest{Verdict: apiv1.VerdictKilled, Limit: MaxLimit})
		if err != nil || len(resp.Terminations) != 1 {
			t.Errorf("List = %v, %v; want the poison pod", resp, err)
		}
	})
}
