package spool

// MinMaxBytes is the smallest bound Options.MaxBytes may set: a spool must
// hold eight segments of at least 4 KiB, so that dropping one segment when
// full loses only an eighth of it.
const MinMaxBytes = 8 * 4096
