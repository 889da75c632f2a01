// Package bench holds jobartifacts' performance harness; it has no code of
// its own to import.
//
// The Go benchmarks (go test -bench . ./bench) run the real handler on
// fsstore and tokenauth, behind AccessLog, over loopback TCP: a runner
// upload (chunked multipart, with and without fsync, and the same body to
// the bare Go references of internal/bareupload, without and with
// SHA-256), a whole-archive download and small requests.
//
// compare.sh prints every row of issue 12's table against its goal: it
// runs the example server, nginx and a bare Go server (cmd/benchserve) side
// by side and times uploads, downloads, small requests, lookups and tree
// pages of a million-entry archive (warm, and cold against unzip -p),
// entry decoding against an in-process decode, and memory per in-flight
// request; ROWS chooses rows. RESULTS.md says what each row measures and
// what the runs showed. Speed is never asserted: these only measure.
package bench
