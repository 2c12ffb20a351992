package telegram

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
)

// maxRequest bounds what wholeBody reads into memory: Telegram takes uploads of up to 50 MB from
// bots, and Tiltas sends text and small calendar files.
const maxRequest = 50 << 20

// wholeBody sends each request's body in one piece. go-telegram/bot streams its multipart form
// through a pipe, and net/http sends such a body chunked, writing a chunk (a system call, and
// over TLS a record) for every small piece: a sendMessage with its parse mode, preview options
// and keyboard becomes a dozen writes. The forms are small and built from memory, so reading
// them first and sending them with a Content-Length costs a copy and saves the writes.
type wholeBody struct{ next http.RoundTripper }

func (t wholeBody) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body == nil || req.Body == http.NoBody || req.ContentLength > 0 {
		return t.next.RoundTrip(req)
	}
	var buf bytes.Buffer
	buf.Grow(4 << 10) // a message with its keyboard, in one allocation
	_, err := buf.ReadFrom(io.LimitReader(req.Body, maxRequest+1))
	_ = req.Body.Close()
	if err != nil {
		return nil, fmt.Errorf("read request body: %w", err)
	}
	data := buf.Bytes()
	if len(data) > maxRequest {
		return nil, fmt.Errorf("request body over %d bytes", maxRequest)
	}
	r := req.Clone(req.Context())
	r.ContentLength = int64(len(data))
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	return t.next.RoundTrip(r)
}
