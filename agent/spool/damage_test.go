package spool

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

func TestDamagedSpool(t *testing.T) {
	garbage := []byte("\x13\x00\x00\x00not a frame at all, just bytes that were never written by the spool")
	cases := []struct {
		name string
		// damage breaks the files of a spool that holds pod-0..pod-99 over
		// several raw segments, and returns the pods still to be delivered.
		damage      func(t *testing.T, segs []string) []string
		wantDamaged map[string]float64
	}{
		{
			name: "a garbage tail on a sealed segment and a truncated last record keep every valid record",
			damage: func(t *testing.T, segs []string) []string {
				appendBytes(t, segs[0], garbage)
				last := segs[len(segs)-1]
				fi, err := os.Stat(last)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(last, fi.Size()-5); err != nil {
					t.Fatal(err)
				}
				return podRange(0, 99) // pod-99's record was cut short
			},
			wantDamaged: map[string]float64{"corrupt": 1, "truncated": 1},
		},
		{
			name: "a flipped byte inside a record ends its segment there",
			damage: func(t *testing.T, segs []string) []string {
				pods, offsets := framesIn(t, segs[0])
				k := len(pods) / 2
				b, err := os.ReadFile(segs[0])
				if err != nil {
					t.Fatal(err)
				}
				b[offsets[k]+frameHeader+3] ^= 0xff
				if err := os.WriteFile(segs[0], b, 0o600); err != nil {
					t.Fatal(err)
				}
				want := append([]string(nil), pods[:k]...)
				for _, s := range segs[1:] {
					p, _ := framesIn(t, s)
					want = append(want, p...)
				}
				return want
			},
			wantDamaged: map[string]float64{"corrupt": 1},
		},
		{
			name: "a segment with a broken header is skipped whole",
			damage: func(t *testing.T, segs []string) []string {
				pods, _ := framesIn(t, segs[0])
				if err := os.WriteFile(segs[0], []byte("JUNKJUNKJUNK"), 0o600); err != nil {
					t.Fatal(err)
				}
				return podRange(len(pods), 100)
			},
			wantDamaged: map[string]float64{"header": 1},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opts := Options{MaxBytes: 1 << 20, SegmentBytes: 4096}
			s, _ := open(t, dir, opts)
			appendN(t, s, apiv1.KindContainerStarted, 0, 100)
			s.Close()
			segs := segmentFiles(t, dir, "raw")
			if len(segs) < 3 {
				t.Fatalf("only %d segments; the test needs several", len(segs))
			}
			want := tc.damage(t, segs)

			s, _ = open(t, dir, opts)
			defer s.Close()
			if got := podNames(drain(t, s, true)); fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("delivered %v\nwant      %v", got, want)
			}
			for reason, n := range tc.wantDamaged {
				if c := counter(t, s.m.damaged.WithLabelValues(reason)); c != n {
					t.Errorf("damaged{reason=%q} = %v, want %v", reason, c, n)
				}
			}
			if counter(t, s.m.damagedBytes) == 0 {
				t.Error("no damaged bytes counted")
			}
			// The spool goes on working after the damage.
			appendN(t, s, apiv1.KindContainerStarted, 100, 1)
			if got := podNames(drain(t, s, true)); fmt.Sprint(got) != "[pod-100]" {
				t.Errorf("after the damage, delivered %v, want [pod-100]", got)
			}
		})
	}
}

func TestDamageFoundWhileRunning(t *testing.T) {
	dir := t.TempDir()
	s, _ := open(t, dir, Options{MaxBytes: 1 << 20, SegmentBytes: 4096})
	defer s.Close()
	appendN(t, s, apiv1.KindContainerStarted, 0, 100)
	segs := segmentFiles(t, dir, "raw")
	pods, _ := framesIn(t, segs[0])
	appendBytes(t, segs[0], []byte("garbage written behind the spool's back"))
	// The sealed segment now has bytes past its known end: the reader stops
	// at the end it knows. Corrupt a record inside it instead.
	b, _ := os.ReadFile(segs[0])
	b[len(segmentMagic)+frameHeader+1] ^= 0xff
	os.WriteFile(segs[0], b, 0o600)

	got := podNames(drain(t, s, true))
	if want := podRange(len(pods), 100); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("delivered %v\nwant      %v", got, want)
	}
	if c := counter(t, s.m.damaged.WithLabelValues("corrupt")); c != 1 {
		t.Errorf("damaged{corrupt} = %v, want 1", c)
	}
}

// segmentFiles lists a lane's segment files, oldest first.
func segmentFiles(t *testing.T, dir, lane string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, lane+"-*.seg"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	return files
}

// framesIn returns the pod of every record in a segment file and the file
// offset of each record's frame.
func framesIn(t *testing.T, path string) (pods []string, offsets []int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	start := len(segmentMagic)
	scanFrames(b[start:], 1<<20, func(p []byte, end int) {
		rec, e := new(apiv1.Record), new(apiv1.Event)
		if err := proto.Unmarshal(p, rec); err != nil {
			t.Fatal(err)
		}
		if err := proto.Unmarshal(rec.Event, e); err != nil {
			t.Fatal(err)
		}
		pods = append(pods, e.GetPod().GetName())
		offsets = append(offsets, start)
		start = len(segmentMagic) + end
	})
	return pods, offsets
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		t.Fatal(err)
	}
}

func podRange(from, to int) []string {
	var out []string
	for i := from; i < to; i++ {
		out = append(out, fmt.Sprintf("pod-%d", i))
	}
	return out
}
