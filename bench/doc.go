// Package bench holds jobartifacts' performance harness; it has no code of
// its own to import.
//
// The Go benchmarks (go test -bench . ./bench) run the real handler on
// fsstore and tokenauth, behind AccessLog, over loopback TCP: a runner
// upload (chunked multipart, with and without fsync), a whole-archive
// download and small requests. compare.sh measures the same against nginx
// and a bare Go server (cmd/benchserve) and prints ratios; see the README's
// Performance section. Speed is never asserted: these only measure.
package bench
