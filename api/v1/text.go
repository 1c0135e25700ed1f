package apiv1

import (
	"strings"
	"unicode/utf8"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// Every string of the contract is valid UTF-8: protobuf refuses to encode
// (and the collector to store) anything else. Strings that come from
// workloads (a process's comm and argv, a CNI plugin's output, a path)
// carry whatever bytes the workload chose, so the agent repairs them where
// they enter it, and repairs an event once more rather than lose it when
// one slipped through.

// ValidText returns s with each run of invalid UTF-8 replaced by U+FFFD,
// and whether anything was replaced.
func ValidText(s string) (string, bool) {
	if utf8.ValidString(s) {
		return s, false
	}
	return strings.ToValidUTF8(s, "\uFFFD"), true
}

// RepairUTF8 makes every string of m, nested messages, lists and map keys
// included, valid UTF-8 in place, and returns how many strings it changed.
// It is the last line of defence, for an event that failed to encode.
func RepairUTF8(m proto.Message) int {
	return repairMessage(m.ProtoReflect())
}

func repairMessage(m protoreflect.Message) int {
	type field struct {
		fd protoreflect.FieldDescriptor
		v  protoreflect.Value
	}
	// A message must not change while Range walks it.
	var fields []field
	m.Range(func(fd protoreflect.FieldDescriptor, v protoreflect.Value) bool {
		fields = append(fields, field{fd, v})
		return true
	})
	n := 0
	for _, f := range fields {
		switch {
		case f.fd.IsList():
			n += repairList(f.fd, f.v.List())
		case f.fd.IsMap():
			n += repairMap(f.fd, f.v.Map())
		case f.fd.Kind() == protoreflect.StringKind:
			if s, ok := ValidText(f.v.String()); ok {
				m.Set(f.fd, protoreflect.ValueOfString(s))
				n++
			}
		case f.fd.Message() != nil:
			n += repairMessage(f.v.Message())
		}
	}
	return n
}

func repairList(fd protoreflect.FieldDescriptor, l protoreflect.List) int {
	n := 0
	for i := range l.Len() {
		switch {
		case fd.Kind() == protoreflect.StringKind:
			if s, ok := ValidText(l.Get(i).String()); ok {
				l.Set(i, protoreflect.ValueOfString(s))
				n++
			}
		case fd.Message() != nil:
			n += repairMessage(l.Get(i).Message())
		}
	}
	return n
}

func repairMap(fd protoreflect.FieldDescriptor, mp protoreflect.Map) int {
	type entry struct {
		k protoreflect.MapKey
		v protoreflect.Value
	}
	var entries []entry
	mp.Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
		entries = append(entries, entry{k, v})
		return true
	})
	n := 0
	for _, e := range entries {
		v := e.v
		switch {
		case fd.MapValue().Kind() == protoreflect.StringKind:
			if s, ok := ValidText(v.String()); ok {
				v = protoreflect.ValueOfString(s)
				mp.Set(e.k, v)
				n++
			}
		case fd.MapValue().Message() != nil:
			n += repairMessage(v.Message())
		}
		if fd.MapKey().Kind() == protoreflect.StringKind {
			if s, ok := ValidText(e.k.String()); ok {
				// Two keys repaired alike merge; the later one wins.
				mp.Clear(e.k)
				mp.Set(protoreflect.ValueOfString(s).MapKey(), v)
				n++
			}
		}
	}
	return n
}
