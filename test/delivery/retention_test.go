package delivery

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// TestRetention stores an event older than the retention and a fresh one;
// the background purge must remove the old one alone.
func TestRetention(t *testing.T) {
	c := newCollector(t, nil, "--retention", "1h", "--purge-interval", "100ms")
	st := openStore(t, c.db())
	var records []*apiv1.Record
	for i, age := range []time.Duration{2 * time.Hour, 0} {
		body, _ := proto.Marshal(&apiv1.Event{Kind: apiv1.KindContainerStarted, Node: "n", Time: timestamppb.New(time.Now().Add(-age)),
			Pod: &apiv1.PodRef{Namespace: "ns", Name: "p", Uid: "uid-00000" + string(rune('0'+i))}})
		records = append(records, &apiv1.Record{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: uint64(i + 1)}, Event: body})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := apiv1.NewIngestClient(dial(t, c.grpc, agentToken)).Stream(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Send(&apiv1.Batch{Id: 1, Records: records}); err != nil {
		t.Fatal(err)
	}
	if ack, err := s.Recv(); err != nil || ack.Stored != 2 {
		t.Fatalf("ack = %v, %v; want 2 stored", ack, err)
	}
	waitFor(t, 10*time.Second, "the expired event to be purged", func() bool { return st.count(t) == 1 })
	var uid string
	if err := st.db.QueryRow("SELECT uid FROM events").Scan(&uid); err != nil || uid != "uid-000001" {
		t.Errorf("left %q, %v; want the fresh event", uid, err)
	}
}
