// Conformance driver for golang.org/x/oauth2/clientcredentials, used unmodified (Debian's
// golang-golang-x-oauth2-dev, built offline with GOPATH=/usr/share/gocode GO111MODULE=off).
//
//	python -m contract_tests.drivers.install        (builds it into a cache directory)
//	scalekit-conformance client --driver "python -m contract_tests.drivers.go_oauth2"
//
// This file is only the protocol loop of docs/driver-protocol.md around the library, used the way
// its package docs show: a clientcredentials.Config{ClientID, ClientSecret, TokenURL} (AuthStyle
// left to its zero value, auto-detect), and cfg.Client(ctx), an *http.Client that fetches, caches
// and refreshes the token itself, for every API call. The driver never retries or repairs a call.
//
// It cannot offer advance_time: x/oauth2 judges expiry with time.Now() (Token.Valid), which nothing
// outside the library can move, so the suite runs its time-dependent checks in real time.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// oauth2Version is set at build time (-ldflags -X) from the Debian package's version: GOPATH mode
// keeps no module versions in the binary.
var oauth2Version = "unknown"

type request struct {
	ID     json.RawMessage `json:"id"`
	Op     string          `json:"op"`
	Method string          `json:"method"`
	Path   string          `json:"path"`
	Body   json.RawMessage `json:"body"`
	Count  int             `json:"count"`
}

type failure struct {
	Status  *int   `json:"status"`
	Type    string `json:"type"`
	Message string `json:"message"`
}

type result map[string]interface{}

var client *http.Client

// newClient is the library's documented use: a Config, then cfg.Client(ctx).
func newClient() *http.Client {
	cfg := clientcredentials.Config{
		ClientID:     os.Getenv("SCALEKIT_CLIENT_ID"),
		ClientSecret: os.Getenv("SCALEKIT_CLIENT_SECRET"),
		TokenURL:     baseURL() + "/oauth/token",
	}
	return cfg.Client(context.Background())
}

func baseURL() string {
	return strings.TrimRight(os.Getenv("SCALEKIT_ENVIRONMENT_URL"), "/")
}

// oneCall makes the request through the client as an application would.
func oneCall(c *http.Client, req request) result {
	var body io.Reader
	if len(req.Body) > 0 && string(req.Body) != "null" {
		body = bytes.NewReader(req.Body)
	}
	httpReq, err := http.NewRequest(req.Method, baseURL()+req.Path, body)
	if err != nil {
		return fail(nil, "other", err.Error())
	}
	if body != nil {
		httpReq.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.Do(httpReq)
	if err != nil {
		return classify(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return classify(err)
	}
	var parsed interface{}
	if len(raw) > 0 && json.Unmarshal(raw, &parsed) != nil {
		parsed = nil // an error page that is not JSON: the status says enough
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return failStatus(resp.StatusCode, fmt.Sprintf("HTTP %d", resp.StatusCode))
	}
	return result{"ok": true, "status": resp.StatusCode, "body": parsed}
}

// classify maps what the client returned to the protocol's error types.
func classify(err error) result {
	var retrieve *oauth2.RetrieveError
	if errors.As(err, &retrieve) && retrieve.Response != nil {
		return failStatus(retrieve.Response.StatusCode, err.Error())
	}
	var netErr net.Error
	if errors.As(err, &netErr) && netErr.Timeout() {
		return fail(nil, "timeout", err.Error())
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fail(nil, "transport", err.Error())
	}
	// A token response the library could not use: not JSON, no access_token, an expires_in it cannot read.
	var syntax *json.SyntaxError
	var typed *json.UnmarshalTypeError
	var number *strconv.NumError
	if errors.As(err, &syntax) || errors.As(err, &typed) || errors.As(err, &number) ||
		strings.Contains(err.Error(), "oauth2: server response missing access_token") {
		return fail(nil, "invalid_response", err.Error())
	}
	return fail(nil, "other", err.Error())
}

func failStatus(status int, message string) result {
	kind := map[int]string{401: "unauthenticated", 403: "permission_denied"}[status]
	if kind == "" {
		kind = "http"
	}
	return fail(&status, kind, message)
}

func fail(status *int, kind, message string) result {
	if len(message) > 500 {
		message = message[:500]
	}
	return result{"ok": false, "error": failure{status, kind, message}}
}

func handle(req request) result {
	switch req.Op {
	case "hello":
		return result{"ok": true, "name": "golang.org/x/oauth2 clientcredentials", "version": version(),
			"capabilities": []string{"concurrent"},
			"unavailable": map[string]string{"advance_time": "x/oauth2 judges token expiry with time.Now() " +
				"(Token.Valid), which a driver cannot move: the time-dependent checks run in real time"}}
	case "new_client":
		client = newClient()
		return result{"ok": true}
	case "call":
		if client == nil {
			client = newClient()
		}
		return oneCall(client, req)
	case "call_concurrently":
		if client == nil {
			client = newClient() // one shared client for all of them
		}
		results := make([]result, req.Count)
		var wg sync.WaitGroup
		for i := range results {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				results[i] = oneCall(client, req)
			}(i)
		}
		wg.Wait()
		return result{"ok": true, "results": results}
	case "shutdown":
		return result{"ok": true}
	}
	return fail(nil, "unsupported", fmt.Sprintf("unknown op %q", req.Op))
}

// version is the library's, with the Go release it was built with (major.minor: patch releases come
// with Debian's security updates and change nothing here).
func version() string {
	goVersion := strings.Join(strings.SplitN(runtime.Version(), ".", 3)[:2], ".")
	return fmt.Sprintf("%s (%s)", oauth2Version, goVersion)
}

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		var req request
		var answer result
		if err := json.Unmarshal([]byte(line), &req); err != nil {
			answer = fail(nil, "other", "a request that is not JSON: "+err.Error())
		} else {
			answer = handle(req)
		}
		answer["id"] = req.ID
		encoded, _ := json.Marshal(answer)
		out.Write(append(encoded, '\n'))
		out.Flush()
		if req.Op == "shutdown" {
			break
		}
	}
	os.Exit(0)
}
