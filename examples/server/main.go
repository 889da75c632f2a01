// Command server serves GitLab's Job Artifacts API from a directory, or from
// PostgreSQL and an S3 bucket shared by any number of replicas, with the
// ready-made token authorizer. It is a module of its own, so that pgx and
// minio-go stay out of the library's; from the repository root,
//
//	go -C examples/server run . -demo
//
// serves the full API on 127.0.0.1:8080 from an fsstore in ./artifacts-data
// (of examples/server), filled with the data that GitLab's Job Artifacts API
// docs use in their examples, and prints curl lines to try.
//
//	go -C examples/server run . import -project group/app -project-id 7 -pipeline 7 -job-id 99 build.zip
//
// registers a project, pipeline and job and attaches a zip as the job's
// artifacts archive. -postgres and the -s3 flags put the metadata and the
// blobs elsewhere (see stores.go). Run either with -h for its flags.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	// SIGINT and SIGTERM start a graceful shutdown: downloads in flight
	// finish, new connections are refused.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case errors.Is(err, flag.ErrHelp):
		// -h: the usage was printed.
	case err != nil:
		fmt.Fprintln(os.Stderr, "server:", err)
		stop()
		os.Exit(1)
	}
}

// run is the whole program, given its arguments (without the program name)
// and where to write: "import …" runs the import command, anything else
// serves until ctx is done.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "import" {
		return runImport(ctx, args[1:], stdout, stderr)
	}
	cfg, err := parseServeFlags(args, stderr)
	if err != nil {
		return err
	}
	return serve(ctx, cfg, stdout, stderr)
}
