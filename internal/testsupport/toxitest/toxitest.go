// Package toxitest puts toxiproxy (v2.5.0, built into .tools/bin by make
// test-deps) in front of a test server: a remote S3's latency, per
// connection bandwidth, stalls and resets, on 127.0.0.1, driven through
// toxiproxy's HTTP API. A test that needs it is system tier.
package toxitest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"testing"
	"time"

	"github.com/storacha/storefs/internal/testsupport/tier"
)

// Binary finds toxiproxy-server ($STOREFS_TOXIPROXY, .tools/bin, $PATH),
// or returns "".
func Binary() string { return tier.Tool("STOREFS_TOXIPROXY", "toxiproxy-server") }

// Proxy is one proxy of a running toxiproxy.
type Proxy struct {
	// Listen is where clients connect (127.0.0.1:PORT).
	Listen string
	api    string
	t      testing.TB
}

// Start runs toxiproxy until the test ends, with one proxy to upstream.
func Start(t testing.TB, upstream string) *Proxy {
	t.Helper()
	bin := Binary()
	msg := ""
	if bin == "" {
		msg = "toxiproxy-server not found (run `make test-deps`, or set STOREFS_TOXIPROXY)"
	}
	tier.Require(t, "toxiproxy", msg)
	apiPort, listen := freePort(t), fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cmd := exec.Command(bin, "-host", "127.0.0.1", "-port", fmt.Sprint(apiPort))
	var log bytes.Buffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("toxitest: start: %v", err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("toxiproxy output:\n%s", log.String())
		}
	})
	p := &Proxy{Listen: listen, api: fmt.Sprintf("http://127.0.0.1:%d", apiPort), t: t}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.api + "/version")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("toxitest: not ready within 10 s: %v\n%s", err, log.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.call("POST", "/proxies", map[string]any{"name": "s3", "listen": listen, "upstream": upstream, "enabled": true})
	return p
}

func freePort(t testing.TB) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func (p *Proxy) call(method, path string, body any) {
	p.t.Helper()
	var buf bytes.Buffer
	if body != nil {
		json.NewEncoder(&buf).Encode(body)
	}
	req, err := http.NewRequest(method, p.api+path, &buf)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		p.t.Fatalf("toxitest: %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		var msg bytes.Buffer
		msg.ReadFrom(resp.Body)
		p.t.Fatalf("toxitest: %s %s: %s %s", method, path, resp.Status, msg.String())
	}
}

// Add adds a toxic to the server's answers (downstream): typ is
// toxiproxy's (latency, bandwidth, reset_peer, timeout, slicer …) with
// its attributes (latency in ms, rate in KB/s …).
func (p *Proxy) Add(name, typ string, attrs map[string]any) {
	p.call("POST", "/proxies/s3/toxics", map[string]any{"name": name, "type": typ, "stream": "downstream", "toxicity": 1.0, "attributes": attrs})
}

// Update changes a toxic's attributes.
func (p *Proxy) Update(name string, attrs map[string]any) {
	p.call("POST", "/proxies/s3/toxics/"+name, map[string]any{"attributes": attrs})
}

// Remove removes a toxic.
func (p *Proxy) Remove(name string) { p.call("DELETE", "/proxies/s3/toxics/"+name, nil) }
