package retrievaljournal

import (
	"encoding/json"

	"github.com/storacha/storefs/store/blobstore"
	"github.com/storacha/storefs/store/render"
)

// batchJSON is a batch as the mount shows it (/egress/<CID>.json).
type batchJSON struct {
	Batch    *string       `json:"batch"` // null for the batch in progress
	Receipts []receiptJSON `json:"receipts"`
}

type receiptJSON struct {
	Archive string          `json:"archive"`
	Receipt string          `json:"receipt"`
	Ran     string          `json:"ran"`
	Can     string          `json:"can,omitempty"`
	Space   string          `json:"space,omitempty"`
	Blob    string          `json:"blob,omitempty"`
	Range   *[2]uint64      `json:"range,omitempty"`
	OK      bool            `json:"ok"`
	Issuer  string          `json:"issuer,omitempty"`
	Out     json.RawMessage `json:"out"`
}

// RenderJSON is a batch's rendering (its bytes data as read): each
// receipt with what it says of the retrieval, in journal order.
func RenderJSON(b Batch, data []byte) ([]byte, error) {
	out := batchJSON{Receipts: []receiptJSON{}}
	if !b.IsWIP() {
		c := b.CID.String()
		out.Batch = &c
	}
	for e, err := range Entries(data) {
		if err != nil {
			return nil, err
		}
		r := e.Receipt
		rj := receiptJSON{Archive: e.Archive.String(), Receipt: r.CID.String(), Ran: r.Ran.String(),
			Can: e.Can, Space: e.Space, Range: e.Range, OK: r.Ok != nil, Issuer: r.IssuerDID()}
		if e.Blob != nil {
			rj.Blob = blobstore.Name(e.Blob)
		}
		if rj.Out, err = r.OutJSON(); err != nil {
			return nil, err
		}
		out.Receipts = append(out.Receipts, rj)
	}
	return render.JSON(out)
}
