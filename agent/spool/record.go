package spool

import (
	"encoding/binary"
	"errors"
	"hash/crc32"
)

// A record on disk is a frame: the payload's length (4 bytes, little
// endian), a CRC-32C over the length bytes and the payload (4 bytes), then
// the payload. The checksum covers the length too, so a flipped length bit
// is caught instead of sending the reader off into the middle of a record.
const frameHeader = 8

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

var (
	// errShort means the bytes end inside a frame. At the end of a file it
	// is a truncated record, typically a write cut short by a crash.
	errShort = errors.New("record truncated")
	// errCorrupt means a frame whose length is impossible or whose checksum
	// does not match. Nothing after it in the same segment can be trusted.
	errCorrupt = errors.New("record corrupt")
)

// appendFrame appends payload, framed, to dst.
func appendFrame(dst, payload []byte) []byte {
	var h [frameHeader]byte
	binary.LittleEndian.PutUint32(h[0:4], uint32(len(payload)))
	sum := crc32.Update(0, castagnoli, h[0:4])
	sum = crc32.Update(sum, castagnoli, payload)
	binary.LittleEndian.PutUint32(h[4:8], sum)
	dst = append(dst, h[:]...)
	return append(dst, payload...)
}

// frameSize is the size on disk of a payload of n bytes.
func frameSize(n int) int64 { return int64(frameHeader + n) }

// decodeFrame reads the frame at the start of b. It returns the payload
// (aliasing b) and the frame's total size. maxPayload bounds the length a
// frame may claim; anything larger is corrupt rather than merely short, so a
// garbage length never makes a reader wait for gigabytes that never come.
func decodeFrame(b []byte, maxPayload int) (payload []byte, n int, err error) {
	if len(b) < frameHeader {
		return nil, 0, errShort
	}
	length := binary.LittleEndian.Uint32(b[0:4])
	if uint64(length) > uint64(maxPayload) {
		return nil, 0, errCorrupt
	}
	end := frameHeader + int(length)
	if len(b) < end {
		return nil, 0, errShort
	}
	sum := crc32.Update(0, castagnoli, b[0:4])
	sum = crc32.Update(sum, castagnoli, b[frameHeader:end])
	if sum != binary.LittleEndian.Uint32(b[4:8]) {
		return nil, 0, errCorrupt
	}
	return b[frameHeader:end], end, nil
}

// scanFrames decodes the frames in b in order and calls fn with each payload
// and the offset just past its frame. It stops at the first frame that is
// short or corrupt and returns the offset where the valid prefix ends, with
// the reason it stopped (nil when b held whole frames only).
func scanFrames(b []byte, maxPayload int, fn func(payload []byte, end int)) (int, error) {
	off := 0
	for off < len(b) {
		payload, n, err := decodeFrame(b[off:], maxPayload)
		if err != nil {
			return off, err
		}
		off += n
		if fn != nil {
			fn(payload, off)
		}
	}
	return off, nil
}
