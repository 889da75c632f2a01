// Command benchserve is the Go side of bench/compare.sh: it makes the test
// data, serves the bare Go peer and the handler without fsync, times
// downloads with a Go client, and turns interleaved rounds into ratios.
//
//	benchserve mkdata -dir D -size-mb N       big.zip (N MiB, one stored entry), tiny.zip, small10.zip, 4k.bin
//	benchserve bare -addr A -dir D            GET /files/<name> (ServeContent of the file), GET /gitlab/<name> (the same with
//	                                          GitLab's download headers), GET /copy/<name> (ServeContent without
//	                                          sendfile: 32 KiB reads and writes), POST /upload (multipart to disk),
//	                                          POST /upload-sha256 (the same, hashing each part as it is written)
//	benchserve ja -addr A -data D -auth F     AccessLog(jobartifacts.New(fsstore, tokenauth)); -nofsync; -access-log=false: New alone
//	                                          (bare and ja: -pprof A serves net/http/pprof on A too, for profiles under load)
//	benchserve get URL [header: value]...     one GET with 256 KiB reads; prints seconds
//	benchserve ratio FILE A B                 per-round ratios value(A)/value(B): median [min–max]
//	benchserve stat FILE A [SCALE]            values of A (times SCALE) over the rounds: median [min–max]
//	benchserve ttfb [-n N] [-pid P] URL …     repeated GETs: median time to first byte and to the end
//	benchserve conc -pids P URL …             N GETs at once: server memory per in-flight request
//	benchserve upconc -pids P URL …           N runner uploads at once: server memory per in-flight upload
//	benchserve decode ZIP NAME                one entry read to its end in process; prints seconds
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ciartifacts/jobartifacts"
	"github.com/ciartifacts/jobartifacts/bench/internal/bareupload"
	"github.com/ciartifacts/jobartifacts/fsstore"
	"github.com/ciartifacts/jobartifacts/tokenauth"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: benchserve mkdata|bare|ja|get|ratio|stat|ttfb|conc|upconc|decode|hash …")
		os.Exit(2)
	}
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "mkdata":
		err = mkdata(args)
	case "bare":
		err = bare(args)
	case "ja":
		err = ja(args)
	case "get":
		err = get(args)
	case "ratio":
		err = ratio(args)
	case "stat":
		err = stat(args)
	case "ttfb":
		err = ttfb(args)
	case "conc":
		err = conc(args)
	case "upconc":
		err = upconc(args)
	case "decode":
		err = decode(args)
	case "hash":
		err = hash(args)
	default:
		err = fmt.Errorf("unknown command %q", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benchserve:", err)
		os.Exit(1)
	}
}

// bare is the peer: net/http with nothing in front.
func bare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:28081", "listen address")
	dir := fs.String("dir", "", "directory of the files")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address too (none when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := servePprof(*pprofAddr); err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /files/{name}", serveBareFile(*dir, false))
	mux.HandleFunc("GET /gitlab/{name}", serveBareFile(*dir, true))
	// The same file copied through user space, for reference: over
	// loopback, sendfile leaves the copy out of the page cache to the
	// client, on the same cores.
	files := serveBareFile(*dir, false)
	mux.HandleFunc("GET /copy/{name}", func(w http.ResponseWriter, r *http.Request) {
		files(withoutReadFrom{w}, r)
	})
	// Multipart uploads to disk, removed again: what an upload costs
	// without the handler, and without or with SHA-256.
	mux.HandleFunc("POST /upload", bareupload.Handler(*dir, false))
	mux.HandleFunc("POST /upload-sha256", bareupload.Handler(*dir, true))
	return listen(*addr, mux)
}

// serveBareFile serves a file of dir with ServeContent. With gitlabHeaders
// it also sends the headers GitLab sends with the same download (and the
// handler with it), so that the bytes on the wire are the same as the
// handler's: a whole archive's for a .zip, a single entry's otherwise. What
// net/http costs for those headers is then part of the reference.
func serveBareFile(dir string, gitlabHeaders bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name := filepath.Base(r.PathValue("name"))
		f, err := os.Open(filepath.Join(dir, name))
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			http.Error(w, "stat", http.StatusInternalServerError)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/octet-stream")
		if gitlabHeaders {
			h.Set("Cache-Control", "private, no-cache")
			h.Set("Vary", "Authorization, Job-Token, Private-Token, Origin")
			h.Set("X-Content-Type-Options", "nosniff")
			h.Set("X-Frame-Options", "SAMEORIGIN")
			if strings.HasSuffix(name, ".zip") {
				// Route 1: the archive's SHA-256 as its ETag.
				h.Set("Content-Disposition", `attachment; filename="artifacts.zip"; filename*=UTF-8''artifacts.zip`)
				h.Set("Content-Transfer-Encoding", "binary")
				h.Set("Etag", `"`+strings.Repeat("5", 64)+`"`)
			} else {
				// Route 3: an entry's ETag is 32 hex digits.
				h.Set("Content-Disposition", `attachment; filename="`+name+`"`)
				h.Set("Etag", `"`+strings.Repeat("3", 32)+`"`)
			}
		}
		http.ServeContent(w, r, "", fi.ModTime(), f)
	}
}

// withoutReadFrom hides the response's ReadFrom (and with it net's
// sendfile): io.Copy inside ServeContent then reads and writes 32 KiB at a
// time.
type withoutReadFrom struct{ http.ResponseWriter }

// ja is the handler as the example server composes it, on a store opened
// with or without fsync.
func ja(args []string) error {
	fs := flag.NewFlagSet("ja", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:28083", "listen address")
	data := fs.String("data", "", "fsstore directory")
	authFile := fs.String("auth", "", "tokenauth.Config JSON file")
	noFsync := fs.Bool("nofsync", false, "open the store WithoutFsync")
	noDirectIO := fs.Bool("nodirect", false, "open the store WithoutDirectIO: blobs through the page cache")
	accessLog := fs.Bool("access-log", true, "wrap the handler in AccessLog, logging to stderr (false: New alone, nothing in front)")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address too (none when empty)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := servePprof(*pprofAddr); err != nil {
		return err
	}
	var opts []fsstore.Option
	if *noFsync {
		opts = append(opts, fsstore.WithoutFsync())
	}
	if *noDirectIO {
		opts = append(opts, fsstore.WithoutDirectIO())
	}
	store, err := fsstore.Open(*data, opts...)
	if err != nil {
		return err
	}
	defer store.Close()
	authz := tokenauth.New(store)
	f, err := os.Open(*authFile)
	if err != nil {
		return err
	}
	cfg, err := tokenauth.LoadConfig(f)
	f.Close()
	if err != nil {
		return err
	}
	if err := authz.Apply(cfg); err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	var h http.Handler = jobartifacts.New(store, authz, jobartifacts.WithLogger(logger), jobartifacts.WithMaxUploadSize(0))
	if *accessLog {
		h = jobartifacts.AccessLog(h, logger)
	}
	return listen(*addr, h)
}

// servePprof serves net/http/pprof's handlers on addr, on a listener of
// their own so that profiling never shares the measured server's mux; an
// empty addr serves nothing.
func servePprof(addr string) error {
	if addr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("pprof: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	go http.Serve(ln, mux) //nolint:errcheck // ends with the process
	return nil
}

func listen(addr string, h http.Handler) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	srv := &http.Server{Addr: addr, Handler: h, ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return srv.Shutdown(context.Background())
	}
}

// get downloads a URL as a Go client does and prints the seconds it took.
func get(args []string) error {
	if len(args) < 1 {
		return errors.New("usage: get URL [header: value]")
	}
	req, err := http.NewRequest(http.MethodGet, args[0], nil)
	if err != nil {
		return err
	}
	for _, h := range args[1:] {
		k, v, _ := strings.Cut(h, ":")
		req.Header.Set(strings.TrimSpace(k), strings.TrimSpace(v))
	}
	start := time.Now()
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	buf := make([]byte, 256<<10)
	n, err := io.CopyBuffer(io.Discard, struct{ io.Reader }{resp.Body}, buf)
	if err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", args[0], resp.Status)
	}
	fmt.Printf("%.6f %d\n", time.Since(start).Seconds(), n)
	return nil
}

// rounds reads "round variant value" lines: round → variant → value.
func rounds(path string) (map[string]map[string]float64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	values := map[string]map[string]float64{}
	for line := range strings.Lines(string(data)) {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		v, err := strconv.ParseFloat(f[2], 64)
		if err != nil {
			continue
		}
		if values[f[0]] == nil {
			values[f[0]] = map[string]float64{}
		}
		values[f[0]][f[1]] = v
	}
	return values, nil
}

// ratio prints the median and range of value(a)/value(b) over the rounds
// that have both.
func ratio(args []string) error {
	if len(args) != 3 {
		return errors.New("ratio FILE A B")
	}
	values, err := rounds(args[0])
	if err != nil {
		return err
	}
	var ratios []float64
	for _, vs := range values {
		a, okA := vs[args[1]]
		b, okB := vs[args[2]]
		if okA && okB && b != 0 {
			ratios = append(ratios, a/b)
		}
	}
	if len(ratios) == 0 {
		return fmt.Errorf("no round has both %s and %s", args[1], args[2])
	}
	printSpread(ratios, "%.3f")
	return nil
}

// stat prints the median and range of value(a)×scale over the rounds.
func stat(args []string) error {
	if len(args) < 2 || len(args) > 3 {
		return errors.New("stat FILE A [SCALE]")
	}
	values, err := rounds(args[0])
	if err != nil {
		return err
	}
	scale := 1.0
	if len(args) == 3 {
		if scale, err = strconv.ParseFloat(args[2], 64); err != nil {
			return err
		}
	}
	var vs []float64
	for _, r := range values {
		if v, ok := r[args[1]]; ok {
			vs = append(vs, v*scale)
		}
	}
	if len(vs) == 0 {
		return fmt.Errorf("no round has %s", args[1])
	}
	format := "%.3f"
	integral := !slices.ContainsFunc(vs, func(v float64) bool { return v != math.Trunc(v) })
	switch {
	case integral || slices.Max(vs) >= 100:
		format = "%.0f"
	case slices.Max(vs) >= 1:
		format = "%.2f"
	}
	printSpread(vs, format)
	return nil
}

// printSpread prints "median [min–max] (n=N)" of vs.
func printSpread(vs []float64, format string) {
	slices.Sort(vs)
	med := vs[len(vs)/2]
	if len(vs)%2 == 0 {
		med = (vs[len(vs)/2-1] + vs[len(vs)/2]) / 2
	}
	f := func(v float64) string { return fmt.Sprintf(format, v) }
	fmt.Printf("%s [%s–%s] (n=%d)\n", f(med), f(vs[0]), f(vs[len(vs)-1]), len(vs))
}
