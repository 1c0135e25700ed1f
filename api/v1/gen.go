// Package apiv1 holds graceline's schema (graceline.v1), generated from the
// .proto files beside it: the event contract, the ingest service agents
// stream to, the query service readers ask, and the helpers that give events
// their one JSON form.
package apiv1

//go:generate protoc --proto_path=. --go_out=. --go_opt=paths=source_relative --go-grpc_out=. --go-grpc_opt=paths=source_relative event.proto ingest.proto query.proto
