// Package render turns records into the JSON files the mount shows: pretty
// printed, keys in a fixed order (Go struct order, or lexical inside IPLD
// data), the same bytes every time, so a file's size can be known before
// it is read.
package render

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
)

// JSON renders v (structs with json tags, and Node values) indented by two
// spaces, with a final newline.
func JSON(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return nil, fmt.Errorf("render json: %w", err)
	}
	return buf.Bytes(), nil
}

// Node renders IPLD data with dag-json conventions: a link is
// {"/": "<cid>"}, bytes are {"/": {"bytes": "<base64>"}}, map keys sorted.
// A nil node renders as null.
func Node(n datamodel.Node) (json.RawMessage, error) {
	if n == nil || n.IsAbsent() {
		return json.RawMessage("null"), nil
	}
	var buf bytes.Buffer
	if err := dagjson.Encode(n, &buf); err != nil {
		return nil, fmt.Errorf("render dag-json: %w", err)
	}
	return json.RawMessage(buf.Bytes()), nil
}

// CIDs renders links as a list of strings, [] when empty.
func CIDs(cs []cid.Cid) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.String()
	}
	return out
}
