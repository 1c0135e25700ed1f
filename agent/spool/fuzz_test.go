package spool

import (
	"bytes"
	"errors"
	"testing"

	"google.golang.org/protobuf/proto"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// FuzzRecordReader feeds arbitrary bytes to the frame reader that both
// loading a segment and reading from one use. Whatever the input, it must
// not panic, must stop exactly where the valid frames end, and what it
// accepts must be exactly what the writer would have written.
func FuzzRecordReader(f *testing.F) {
	rec, _ := proto.Marshal(&apiv1.Record{Key: &apiv1.DeliveryKey{Node: "n", Epoch: 1, Seq: 1}, Event: []byte{0x0a, 0x01, 'x'}})
	valid := appendFrame(appendFrame(nil, rec), []byte("second"))
	f.Add(valid)
	f.Add(valid[:len(valid)-3])                                     // truncated
	f.Add(append(append([]byte(nil), valid...), "garbage tail"...)) // garbage tail
	f.Add([]byte{0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0})               // absurd length
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		const maxPayload = 1 << 16
		var payloads [][]byte
		end, err := scanFrames(data, maxPayload, func(p []byte, _ int) { payloads = append(payloads, p) })
		if end < 0 || end > len(data) {
			t.Fatalf("valid prefix ends at %d of %d bytes", end, len(data))
		}
		if (err == nil) != (end == len(data)) {
			t.Fatalf("err = %v with valid prefix %d of %d bytes", err, end, len(data))
		}
		if err != nil && !errors.Is(err, errShort) && !errors.Is(err, errCorrupt) {
			t.Fatalf("unexpected error kind %v", err)
		}
		var again []byte
		for _, p := range payloads {
			if len(p) > maxPayload {
				t.Fatalf("accepted a payload of %d bytes, over the limit", len(p))
			}
			again = appendFrame(again, p)
			// Decoding a payload as a record must fail cleanly, never panic.
			_ = proto.Unmarshal(p, new(apiv1.Record))
		}
		if !bytes.Equal(again, data[:end]) {
			t.Fatal("accepted frames do not re-encode to the bytes they came from")
		}
	})
}
