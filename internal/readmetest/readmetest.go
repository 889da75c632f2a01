// Package readmetest runs the README's command lines in tests, so that what
// a reader pastes is what the tests ran: it reads the README's fenced code
// blocks and plays their curl lines against a test server, as curl would
// send them, checking the status (and payload) each line's "# → …" comment
// promises.
package readmetest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
)

// Path is the README of the module, found from this source file: the one
// place that knows where it is.
func Path(t testing.TB) string {
	t.Helper()
	_, file, _, ok := runtime.Caller(0)
	if !ok || !filepath.IsAbs(file) {
		t.Fatalf("readmetest: this package's source path %q is unknown or not absolute (built with -trimpath?)", file)
	}
	return filepath.Join(filepath.Dir(file), "..", "..", "README.md")
}

// Block is one fenced code block of the README.
type Block struct {
	Lang string // what follows the opening ```, e.g. "shell" or "go"
	Text string // the lines between the fences, each ending in "\n"
}

// Blocks returns the README's fenced code blocks, in order.
func Blocks(t testing.TB) []Block {
	t.Helper()
	data, err := os.ReadFile(Path(t))
	if err != nil {
		t.Fatalf("readmetest: %v", err)
	}
	var blocks []Block
	var cur *Block
	for _, line := range strings.SplitAfter(string(data), "\n") {
		trimmed := strings.TrimRight(line, "\n")
		switch {
		case cur == nil && strings.HasPrefix(trimmed, "```"):
			cur = &Block{Lang: strings.TrimPrefix(trimmed, "```")}
		case cur != nil && trimmed == "```":
			blocks = append(blocks, *cur)
			cur = nil
		case cur != nil:
			cur.Text += line
		}
	}
	if cur != nil {
		t.Fatal("readmetest: README.md ends inside a code block")
	}
	return blocks
}

// Command is one command line of a shell block: its words (nil for a line
// with more shell syntax than quoted words), and what the "# → …" comment
// that applies to it expects ("" when none does).
type Command struct {
	Line   string
	Words  []string
	Expect string
}

// Commands returns the command lines of every shell block, in order, with
// backslash continuations joined. A comment line that holds "→" sets the
// expectation of the lines below it, up to the next comment line; a comment at
// the end of a line sets that line's own.
func Commands(t testing.TB) []Command {
	t.Helper()
	var cmds []Command
	for _, b := range Blocks(t) {
		if b.Lang != "shell" {
			continue
		}
		groupExpect := ""
		var pending string
		for _, line := range strings.Split(b.Text, "\n") {
			if strings.HasSuffix(line, "\\") {
				pending += strings.TrimSuffix(line, "\\")
				continue
			}
			line, pending = pending+line, ""
			trimmed := strings.TrimSpace(line)
			switch {
			case trimmed == "":
				continue
			case strings.HasPrefix(trimmed, "#"):
				groupExpect = expectation(trimmed)
				continue
			}
			// A line with shell syntax beyond plain words (variables, say)
			// has no Words: it is not one for Curl.
			words, comment, err := splitWords(trimmed)
			if err != nil {
				words = nil
			}
			expect := groupExpect
			if e := expectation(comment); e != "" {
				expect = e
			}
			cmds = append(cmds, Command{Line: trimmed, Words: words, Expect: expect})
		}
	}
	return cmds
}

// expectation is what follows "→" in a comment, trimmed; "" without one.
func expectation(comment string) string {
	_, after, ok := strings.Cut(comment, "→")
	if !ok {
		return ""
	}
	return strings.TrimSpace(after)
}

// splitWords splits a command line as a POSIX shell would, for the quoting
// the README uses (single and double quotes, backslash escapes), and returns
// the trailing comment apart.
func splitWords(line string) (words []string, comment string, err error) {
	var word strings.Builder
	inWord := false
	for i := 0; i < len(line); i++ {
		c := line[i]
		switch {
		case c == ' ' || c == '\t':
			if inWord {
				words, inWord = append(words, word.String()), false
				word.Reset()
			}
		case c == '#' && !inWord:
			return words, line[i:], nil
		case c == '\'':
			end := strings.IndexByte(line[i+1:], '\'')
			if end < 0 {
				return nil, "", fmt.Errorf("unterminated '")
			}
			word.WriteString(line[i+1 : i+1+end])
			i += end + 1
			inWord = true
		case c == '"':
			i++
			for ; i < len(line) && line[i] != '"'; i++ {
				if line[i] == '\\' && i+1 < len(line) && strings.IndexByte(`"\$`+"`", line[i+1]) >= 0 {
					i++
				} else if line[i] == '$' {
					return nil, "", fmt.Errorf("variables are not expanded here")
				}
				word.WriteByte(line[i])
			}
			if i == len(line) {
				return nil, "", fmt.Errorf(`unterminated "`)
			}
			inWord = true
		case c == '\\' && i+1 < len(line):
			i++
			word.WriteByte(line[i])
			inWord = true
		default:
			word.WriteByte(c)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, "", nil
}

// Curl plays a curl command line the way curl sends it, with the URL's
// origin (say http://127.0.0.1:8080) replaced by the test server's, and its
// files (--output, --form file=@…) in dir. It checks the status and payload
// that the line's expectation names: "200", "200, zip", "200, JSON",
// "200, application/pdf" (a Content-Type), or "200, some text" (the body
// holds it). A line without an expectation must answer 2xx.
func Curl(t testing.TB, cmd Command, origin, serverURL, dir string) {
	t.Helper()
	req, output, follow := curlRequest(t, cmd, origin, serverURL, dir)
	client := &http.Client{}
	if !follow {
		client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Line, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: reading the body: %v", cmd.Line, err)
	}
	if output != "" {
		if err := os.WriteFile(filepath.Join(dir, output), body, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	checkExpectation(t, cmd, resp, body)
}

var statusRE = regexp.MustCompile(`^(\d{3})\b,?\s*(.*)$`)

func checkExpectation(t testing.TB, cmd Command, resp *http.Response, body []byte) {
	t.Helper()
	if cmd.Expect == "" {
		if resp.StatusCode/100 != 2 {
			t.Errorf("%s: status %d, want 2xx; body %.300s", cmd.Line, resp.StatusCode, body)
		}
		return
	}
	m := statusRE.FindStringSubmatch(cmd.Expect)
	if m == nil {
		t.Fatalf("%s: cannot read the expectation %q", cmd.Line, cmd.Expect)
	}
	want, _ := strconv.Atoi(m[1])
	if resp.StatusCode != want {
		t.Errorf("%s: status %d, want %d; body %.300s", cmd.Line, resp.StatusCode, want, body)
		return
	}
	switch payload := m[2]; {
	case payload == "":
	case payload == "zip":
		if !bytes.HasPrefix(body, []byte("PK")) {
			t.Errorf("%s: body is not a zip: %.100q", cmd.Line, body)
		}
	case payload == "JSON":
		if !json.Valid(body) {
			t.Errorf("%s: body is not JSON: %.300s", cmd.Line, body)
		}
	case strings.Contains(payload, "/") && !strings.Contains(payload, " "):
		if got := resp.Header.Get("Content-Type"); got != payload {
			t.Errorf("%s: Content-Type %q, want %q", cmd.Line, got, payload)
		}
	default:
		if !bytes.Contains(body, []byte(payload)) {
			t.Errorf("%s: body %.300q does not hold %q", cmd.Line, body, payload)
		}
	}
}

// curlRequest builds the request a curl command line sends; output is its
// --output file and follow whether it follows redirects (--location).
func curlRequest(t testing.TB, cmd Command, origin, serverURL, dir string) (req *http.Request, output string, follow bool) {
	t.Helper()
	if len(cmd.Words) == 0 || cmd.Words[0] != "curl" {
		t.Fatalf("readmetest: not a curl line: %s", cmd.Line)
	}
	method, target := "", ""
	header := http.Header{}
	var form []string
	args := cmd.Words[1:]
	value := func(i int) string {
		if i+1 >= len(args) {
			t.Fatalf("%s: %s needs a value", cmd.Line, args[i])
		}
		return args[i+1]
	}
	for i := 0; i < len(args); i++ {
		switch a := args[i]; a {
		case "--location", "-L":
			follow = true
		case "--output", "-o":
			output = value(i)
			i++
		case "--header", "-H":
			k, v, ok := strings.Cut(value(i), ":")
			if !ok {
				t.Fatalf("%s: header %q", cmd.Line, value(i))
			}
			header.Add(strings.TrimSpace(k), strings.TrimSpace(v))
			i++
		case "--request", "-X":
			method = value(i)
			i++
		case "--form", "-F":
			form = append(form, value(i))
			i++
		default:
			if strings.HasPrefix(a, "-") || target != "" {
				t.Fatalf("%s: readmetest does not know curl's %q", cmd.Line, a)
			}
			target = a
		}
	}
	if !strings.HasPrefix(target, origin) {
		t.Fatalf("%s: the URL does not start with %s", cmd.Line, origin)
	}
	target = serverURL + strings.TrimPrefix(target, origin)
	var body io.Reader
	if len(form) > 0 {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		for _, f := range form {
			name, v, _ := strings.Cut(f, "=")
			path, isFile := strings.CutPrefix(v, "@")
			if !isFile {
				if err := mw.WriteField(name, v); err != nil {
					t.Fatal(err)
				}
				continue
			}
			data, err := os.ReadFile(filepath.Join(dir, path))
			if err != nil {
				t.Fatalf("%s: %v", cmd.Line, err)
			}
			part, err := mw.CreateFormFile(name, filepath.Base(path))
			if err != nil {
				t.Fatal(err)
			}
			_, _ = part.Write(data)
		}
		if err := mw.Close(); err != nil {
			t.Fatal(err)
		}
		body = &buf
		header.Set("Content-Type", mw.FormDataContentType())
		if method == "" {
			method = http.MethodPost
		}
	}
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequest(method, target, body)
	if err != nil {
		t.Fatalf("%s: %v", cmd.Line, err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	return req, output, follow
}
