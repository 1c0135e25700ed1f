// Package apiv1 holds graceline's event schema (graceline.v1), generated from
// event.proto, and the helpers that give it its one JSON form.
package apiv1

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative event.proto
