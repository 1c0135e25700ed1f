package store

import (
	"context"
	"path/filepath"
	"testing"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestAPodKeepsItsIdentity(t *testing.T) {
	agentRow := func(seq int64, ns, name, node string) Row {
		r := row(node, 1, seq, "u1", apiv1.KindContainerStarted, 10+seq)
		r.Namespace, r.Name = ns, name
		return r
	}
	apiRow := func(seq int64, ns, name string) Row {
		r := row("n1", 0, seq, "u1", apiv1.KindDeleteRequested, 10+seq)
		r.Namespace, r.Name, r.Cluster = ns, name, true
		return r
	}
	tests := []struct {
		name                 string
		batches              [][]Row
		wantNS, wantName     string
		wantNode             string
		wantIdentityConflict int // in the last batch
	}{
		{"an agent cannot rename a known pod", [][]Row{{agentRow(1, "shop", "web", "n1")}, {agentRow(2, "shop", "hidden", "n1")}}, "shop", "web", "n1", 1},
		{"an agent cannot move a known pod to another namespace", [][]Row{{agentRow(1, "shop", "web", "n1")}, {agentRow(2, "kube-system", "web", "n1")}}, "shop", "web", "n1", 1},
		{"an agent of another node cannot take a known pod", [][]Row{{agentRow(1, "shop", "web", "n1")}, {agentRow(2, "shop", "web", "n2")}}, "shop", "web", "n1", 1},
		{"an event without a name leaves the name as it is", [][]Row{{agentRow(1, "shop", "web", "n1")}, {agentRow(2, "", "", "n1")}}, "shop", "web", "n1", 0},
		{"the API's word on a pod's identity is final", [][]Row{{agentRow(1, "forged", "name", "n1")}, {apiRow(2, "shop", "web")}}, "shop", "web", "n1", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openStore(t, filepath.Join(t.TempDir(), "db"))
			var res InsertResult
			for _, b := range tt.batches {
				var err error
				if res, err = s.Insert(context.Background(), b); err != nil {
					t.Fatal(err)
				}
			}
			p, err := s.PodByUID(context.Background(), "u1")
			if err != nil {
				t.Fatal(err)
			}
			if p.Namespace != tt.wantNS || p.Name != tt.wantName || p.Node != tt.wantNode {
				t.Errorf("pod is %s/%s on %s, want %s/%s on %s", p.Namespace, p.Name, p.Node, tt.wantNS, tt.wantName, tt.wantNode)
			}
			if res.IdentityConflicts != tt.wantIdentityConflict {
				t.Errorf("identity conflicts %d, want %d", res.IdentityConflicts, tt.wantIdentityConflict)
			}
		})
	}
}

func TestPurgeForgetsStreamsWithoutEvents(t *testing.T) {
	s := openStore(t, filepath.Join(t.TempDir(), "db"))
	ctx := context.Background()
	for epoch := int64(1); epoch <= 50; epoch++ {
		if _, err := s.Insert(ctx, []Row{row("n1", epoch, 1, "u1", apiv1.KindContainerStarted, epoch)}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Purge(ctx, 41); err != nil {
		t.Fatal(err)
	}
	var streams int
	if err := s.r.QueryRowContext(ctx, "SELECT count(*) FROM streams").Scan(&streams); err != nil {
		t.Fatal(err)
	}
	if streams != 10 {
		t.Errorf("%d streams left, want the 10 that still have events", streams)
	}
	if len(s.streams) > 10 {
		t.Errorf("the stream id cache holds %d streams after the purge", len(s.streams))
	}
	// A stream that was forgotten stores again under a new id, and a live
	// one still recognises its resends.
	res, err := s.Insert(ctx, []Row{row("n1", 1, 2, "u1", apiv1.KindContainerExited, 100), row("n1", 50, 1, "u1", apiv1.KindContainerStarted, 50)})
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 1 || res.Duplicates != 1 {
		t.Errorf("stored %d, duplicates %d; want 1 and 1", res.Stored, res.Duplicates)
	}
}
