package apiv1

// MaxEventBytes bounds one encoded Event. The agent's spool refuses larger
// events and the collector rejects them, so that no client can make the
// collector hold an arbitrarily large event; real events are a few hundred
// bytes, and a stuck report with all its evidence a few KiB.
const MaxEventBytes = 256 << 10

// Metadata keys with which the collector announces its ingest limits at the
// start of every stream, so that an agent configured for larger batches
// sends smaller ones instead of having records refused.
const (
	MetaMaxBatchRecords = "graceline-max-batch-records"
	MetaMaxBatchBytes   = "graceline-max-batch-bytes"
)
