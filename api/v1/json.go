package apiv1

import (
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// jsonOptions give the contract's JSON form: snake_case field names as in the
// .proto file, RFC 3339 times with nanoseconds, and unset fields left out.
var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// MarshalJSONLine returns e as one line of JSON, without a trailing newline.
func MarshalJSONLine(e *Event) ([]byte, error) {
	return jsonOptions.Marshal(e)
}

// MarshalJSONMessage returns any message of the schema (a WorkloadReport,
// say) as one line of JSON in the same form as events.
func MarshalJSONMessage(m proto.Message) ([]byte, error) {
	return jsonOptions.Marshal(m)
}

// UnmarshalJSONLine parses one JSON line into an Event. Unknown fields are
// rejected so that a reader notices a contract mismatch instead of dropping data.
func UnmarshalJSONLine(b []byte, e *Event) error {
	return protojson.Unmarshal(b, e)
}
