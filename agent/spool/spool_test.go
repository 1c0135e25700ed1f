package spool

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestDelivery(t *testing.T) {
	cases := []struct {
		name string
		// run appends and reads; it returns the pods it expects the next
		// run of the spool to deliver.
		run  func(t *testing.T, s *Spool) []string
		stop func(*Spool)
	}{
		{
			name: "acknowledged records are not delivered again after a restart",
			run: func(t *testing.T, s *Spool) []string {
				appendN(t, s, apiv1.KindContainerStarted, 0, 10)
				drain(t, s, true)
				return nil
			},
			stop: func(s *Spool) { s.Close() },
		},
		{
			name: "unacknowledged records are delivered again after a crash",
			run: func(t *testing.T, s *Spool) []string {
				appendN(t, s, apiv1.KindContainerStarted, 0, 10)
				b, err := s.Read(context.Background(), 4, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Ack(b.Mark); err != nil {
					t.Fatal(err)
				}
				drain(t, s, false) // read but never acknowledged
				return []string{"pod-4", "pod-5", "pod-6", "pod-7", "pod-8", "pod-9"}
			},
			stop: crash,
		},
		{
			name: "a rewind after a broken stream reads the unacknowledged records again",
			run: func(t *testing.T, s *Spool) []string {
				appendN(t, s, apiv1.KindContainerStarted, 0, 3)
				drain(t, s, false)
				s.Rewind()
				if got := podNames(drain(t, s, false)); fmt.Sprint(got) != "[pod-0 pod-1 pod-2]" {
					t.Errorf("after rewind read %v", got)
				}
				return []string{"pod-0", "pod-1", "pod-2"}
			},
			stop: crash,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, _ := open(t, dir, Options{})
			want := tc.run(t, s)
			tc.stop(s)
			s2, _ := open(t, dir, Options{})
			defer s2.Close()
			if got := podNames(drain(t, s2, true)); fmt.Sprint(got) != fmt.Sprint(want) && !(len(got) == 0 && len(want) == 0) {
				t.Errorf("delivered after restart %v, want %v", got, want)
			}
		})
	}
}

func TestKeysSurviveRestarts(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	appendN(t, s, apiv1.KindContainerStarted, 0, 3)
	first := s.Epoch()
	crash(s)

	s, _ = open(t, dir, Options{})
	defer s.Close()
	if s.Epoch() <= first {
		t.Errorf("epoch after restart = %d, want above %d", s.Epoch(), first)
	}
	appendN(t, s, apiv1.KindContainerStarted, 3, 2)
	b, err := s.Read(context.Background(), 100, 1<<20)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range b.Records {
		k := r.Key
		if k.Node != "node-a" {
			t.Errorf("key node = %q", k.Node)
		}
		epoch := "old"
		if k.Epoch == s.Epoch() {
			epoch = "new"
		}
		keys = append(keys, fmt.Sprintf("%s/%d", epoch, k.Seq))
	}
	if got, want := fmt.Sprint(keys), "[old/1 old/2 old/3 new/1 new/2]"; got != want {
		t.Errorf("keys = %s, want %s", got, want)
	}
	last, ok := s.Last()
	if !ok || last.Key.Seq != 2 || last.Key.Epoch != s.Epoch() {
		t.Errorf("Last() = %v, want the second record of the new epoch", last)
	}
}

func TestLastSurvivesAcknowledgement(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4096})
	appendN(t, s, apiv1.KindContainerStarted, 0, 500) // many segments
	drain(t, s, true)
	s.Close()
	s, _ = open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4096})
	defer s.Close()
	last, ok := s.Last()
	if !ok || last.Key.Seq != 500 {
		t.Fatalf("Last() = %v, %v; want seq 500", last, ok)
	}
	if n := len(s.lanes[laneRaw].segs); n != 1 {
		t.Errorf("%d raw segments left after everything was acknowledged, want 1", n)
	}
}

func TestReadWaitsForAppend(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{})
	defer s.Close()
	got := make(chan int, 1)
	go func() {
		b, err := s.Read(context.Background(), 10, 1<<20)
		if err != nil {
			got <- -1
			return
		}
		got <- len(b.Records)
	}()
	appendN(t, s, apiv1.KindContainerStarted, 0, 1)
	select {
	case n := <-got:
		if n != 1 {
			t.Errorf("read %d records, want 1", n)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not wake up after Append")
	}
}

func TestReadEndsWithClose(t *testing.T) {
	s, _ := open(t, t.TempDir(), Options{})
	done := make(chan error, 1)
	go func() {
		_, err := s.Read(context.Background(), 10, 1<<20)
		done <- err
	}()
	time.Sleep(10 * time.Millisecond)
	s.Close()
	select {
	case err := <-done:
		if !errors.Is(err, ErrClosed) {
			t.Errorf("Read after Close = %v, want ErrClosed", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Read did not return after Close")
	}
}

func TestOnlyOneProcessOpensASpool(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{})
	defer s.Close()
	if _, err := Open(dir, Options{Node: "x"}, nil, quiet); err == nil {
		t.Fatal("a second Open of a spool in use succeeded")
	}
}

func TestAckDeletesDeliveredSegments(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4096})
	defer s.Close()
	appendN(t, s, apiv1.KindContainerStarted, 0, 300)
	before, _ := filepath.Glob(filepath.Join(dir, "raw-*.seg"))
	drain(t, s, true)
	after, _ := filepath.Glob(filepath.Join(dir, "raw-*.seg"))
	if len(before) < 3 || len(after) != 1 {
		t.Errorf("segments before/after acknowledging everything: %d/%d, want several/1", len(before), len(after))
	}
	if fi, err := os.Stat(after[0]); err != nil || fi.Size() > 4096 {
		t.Errorf("active segment: %v, %v", fi, err)
	}
}

// TestCursorWritesAreSpaced: an acknowledgement writes the cursor file at
// most once per cursorEvery, so that a collector's frequent acks cost no
// file per ack; after a crash the records acknowledged since the last
// write are delivered again, which the collector stores once.
func TestCursorWritesAreSpaced(t *testing.T) {
	for _, tc := range []struct {
		name  string
		after time.Duration // from the first ack to the second
		want  string        // the first record delivered after the crash
	}{
		{"A second ack within cursorEvery is not written: its records come again.", cursorEvery / 2, "pod-4"},
		{"A second ack cursorEvery later is written.", cursorEvery, "pod-7"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			s, _ := open(t, dir, Options{Now: func() time.Time { return clock }})
			appendN(t, s, apiv1.KindContainerStarted, 0, 10)
			for _, n := range []int{4, 3} {
				b, err := s.Read(context.Background(), n, 1<<20)
				if err != nil {
					t.Fatal(err)
				}
				if err := s.Ack(b.Mark); err != nil {
					t.Fatal(err)
				}
				clock = clock.Add(tc.after)
			}
			crash(s)
			s, _ = open(t, dir, Options{})
			defer s.Close()
			if got := podNames(drain(t, s, false)); len(got) == 0 || got[0] != tc.want {
				t.Errorf("after the crash delivered %v, want from %s", got, tc.want)
			}
		})
	}
}
