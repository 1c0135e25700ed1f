package sender

import (
	"strconv"

	"google.golang.org/grpc/metadata"

	apiv1 "github.com/graceline/graceline/api/v1"
)

// batchLimits are the collector's limits on one batch, as it announces
// them at the start of a stream.
type batchLimits struct {
	records int
	bytes   int64
}

// announcedLimits reads the limits from a stream's header. ok is false when
// the collector announced none, or nonsense.
func announcedLimits(md metadata.MD) (l batchLimits, ok bool) {
	records, err1 := strconv.Atoi(first(md, apiv1.MetaMaxBatchRecords))
	bytes, err2 := strconv.ParseInt(first(md, apiv1.MetaMaxBatchBytes), 10, 64)
	if err1 != nil || err2 != nil || records < 1 || bytes < 1 {
		return batchLimits{}, false
	}
	return batchLimits{records: records, bytes: bytes}, true
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}

// within narrows the configured batch bounds to the collector's.
func (l *batchLimits) within(records int, bytes int64) (int, int64) {
	if l == nil {
		return records, bytes
	}
	return min(records, l.records), min(bytes, l.bytes)
}
